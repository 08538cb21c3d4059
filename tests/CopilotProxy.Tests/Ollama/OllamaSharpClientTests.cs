using CopilotProxy.Tests.Harness;
using OllamaSharp;
using OllamaSharp.Models;
using OllamaSharp.Models.Chat;
using OllamaSharp.Tools;
using static CopilotProxy.Tests.Ollama.OllamaFixture;

namespace CopilotProxy.Tests.Ollama;

/// <summary>The real OllamaSharp client (NuGet 5.5.2) against the proxy, as a .NET app would use it.</summary>
public class OllamaSharpClientTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static OllamaApiClient Client(ProxyFixture proxy) => new(proxy.OllamaUrl, Qwen + ":latest");

    /// <summary>A weather tool OllamaSharp invokes itself when the model calls it.</summary>
    private sealed class WeatherTool : Tool, IInvokableTool
    {
        public WeatherTool()
        {
            Function = new Function
            {
                Name = "get_weather",
                Description = "Current weather for a city",
                Parameters = new Parameters
                {
                    Properties = new Dictionary<string, Property> { ["city"] = new() { Type = "string", Description = "City name" } },
                    Required = ["city"],
                },
            };
        }

        public List<string> Cities { get; } = [];

        public object? InvokeMethod(IDictionary<string, object?>? args)
        {
            var city = args?["city"]?.ToString() ?? "?";
            Cities.Add(city);
            return $"22 °C and sunny in {city}";
        }
    }

    [Fact]
    public async Task MultiTurnToolConversation_ModelCallsToolClientAnswersModelReplies()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(new LmStudioSse(Qwen).ToolCalls(new FakeToolCall("get_weather", """{"city":"Tokyo"}""") { PieceLength = 2 }).Finish("tool_calls").Usage(80, 15)));
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Qwen, "It is ", "22 °C ", "in Tokyo.").Usage(120, 6)));
        var tool = new WeatherTool();
        using var client = Client(proxy);
        var chat = new Chat(client);

        var answer = string.Concat(await chat.SendAsync("What's the weather in Tokyo?", [tool], cancellationToken: Ct).ToListAsync(Ct));

        // The client got the call whole, with object arguments it could bind, ran it, and got the model's reply.
        Assert.Equal(["Tokyo"], tool.Cities);
        Assert.Equal("It is 22 °C in Tokyo.", answer);
        var roles = chat.Messages.Select(m => m.Role).ToList();
        Assert.Equal([ChatRole.User, ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant], roles);

        // The second upstream request carries the call and its result, linked by the same id.
        var second = proxy.UpstreamRequests("/v1/chat/completions")[1].Json!;
        var messages = second["messages"]!.AsArray();
        var call = messages[1]!["tool_calls"]![0]!;
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("""{"city":"Tokyo"}""", (string?)call["function"]!["arguments"]);
        Assert.Equal("tool", (string?)messages[2]!["role"]);
        Assert.Equal((string?)call["id"], (string?)messages[2]!["tool_call_id"]);
        Assert.Contains("22 °C and sunny in Tokyo", (string?)messages[2]!["content"], StringComparison.Ordinal);
        Assert.Equal("get_weather", (string?)second["tools"]![0]!["function"]!["name"]);
    }

    [Fact]
    public async Task StreamingChat_YieldsTokensInOrderWithFinalStats()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Reasoning(Qwen, ["Hmm", "."], ["Hello", ", ", "world"]).Usage(9, 5)));
        using var client = Client(proxy);

        var updates = await client.ChatAsync(new ChatRequest
        {
            Model = Qwen,
            Messages = [new Message(ChatRole.User, "greet")],
            Think = true,
        }, Ct).ToListAsync(Ct);

        Assert.Equal("Hello, world", string.Concat(updates.Select(u => u?.Message.Content)));
        Assert.Equal("Hmm.", string.Concat(updates.Select(u => u?.Message.Thinking)));
        var done = Assert.IsType<ChatDoneResponseStream>(updates[^1]);
        Assert.True(done.Done);
        Assert.Equal(9, done.PromptEvalCount);
        Assert.Equal(5, done.EvalCount);
        Assert.True(done.TotalDuration > 0);
    }

    [Fact]
    public async Task Generate_ReturnsTheResponse()
    {
        await using var proxy = await StartAsync();
        using var client = Client(proxy);

        var updates = await client.GenerateAsync(new GenerateRequest { Model = Qwen, Prompt = "Say hello" }, Ct).ToListAsync(Ct);

        Assert.Equal(proxy.Upstream.DefaultReply, string.Concat(updates.Select(u => u?.Response)));
        Assert.True(updates[^1]!.Done);
    }

    [Fact]
    public async Task Embed_ReturnsOneVectorPerInput()
    {
        await using var proxy = await StartAsync();
        using var client = Client(proxy);

        var result = await client.EmbedAsync(new EmbedRequest { Model = Nomic, Input = ["alpha", "beta", "gamma"] }, Ct);

        Assert.Equal(3, result.Embeddings.Count);
        Assert.All(result.Embeddings, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 3));
    }

    [Fact]
    public async Task ListAndShow_DescribeLmStudioModels()
    {
        await using var proxy = await StartAsync();
        using var client = Client(proxy);

        var models = (await client.ListLocalModelsAsync(Ct)).ToList();
        var show = await client.ShowModelAsync(new ShowModelRequest { Model = Qwen + ":latest" }, Ct);

        Assert.Contains(models, m => m.Name == Qwen + ":latest");
        Assert.Contains(models, m => m.Name == Nomic + ":latest");
        Assert.Contains("tools", show.Capabilities ?? []);
        Assert.Contains("vision", show.Capabilities ?? []);
    }
}
