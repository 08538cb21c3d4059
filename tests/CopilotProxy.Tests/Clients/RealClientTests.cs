using System.ClientModel;
using CopilotProxy.Tests.Harness;
using OllamaSharp;
using OpenAI;
using OpenAI.Chat;

namespace CopilotProxy.Tests.Clients;

/// <summary>The proxy driven by the real client libraries people use, not by our own assumptions about them.</summary>
public sealed class RealClientTests
{
    private const string Key = "qwen/qwen3-8b";

    [Fact]
    public async Task OllamaSharp_DiscoversModelsLikeCopilotDoes()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key, loadedContextLength: 16384, vision: true), FakeModel.Embedding("nomic-embed")]);
        using var http = new HttpClient { BaseAddress = proxy.OllamaUrl };
        IOllamaApiClient ollama = new OllamaApiClient(http);

        Assert.True(await ollama.IsRunningAsync());
        var version = await ollama.GetVersionAsync();
        Assert.True(Version.Parse(version) >= new Version(0, 6, 4));

        var models = (await ollama.ListLocalModelsAsync()).ToList();
        Assert.Equal([$"{Key}:latest", "nomic-embed:latest"], models.Select(m => m.Name));
        Assert.Equal("Q4_K_M", models[0].Details.QuantizationLevel);

        var show = await ollama.ShowModelAsync(models[0].Name);
        Assert.Contains("tools", show.Capabilities!);
        Assert.Contains("vision", show.Capabilities!);
        Assert.Equal("qwen3", show.Info.Architecture);
        Assert.Equal(16384, ((System.Text.Json.JsonElement)show.Info.ExtraInfo!["qwen3.context_length"]!).GetInt32());
    }

    [Fact]
    public async Task OpenAIDotNet_StreamsAToolCallThroughTheOllamaFrontDoor()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.ToolCalls(Key, new FakeToolCall("get_weather", """{"city":"Paris"}""")).Usage(30, 9)));
        var client = new ChatClient($"{Key}:latest", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(proxy.OllamaUrl, "v1") });
        var tool = ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}"""));

        var id = string.Empty;
        var name = string.Empty;
        var arguments = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], new ChatCompletionOptions { Tools = { tool } }))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                id = part.ToolCallId ?? id;
                name = part.FunctionName ?? name;
                arguments.Append(part.FunctionArgumentsUpdate?.ToString());
            }

            finish = update.FinishReason ?? finish;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal("get_weather", name);
        Assert.False(string.IsNullOrEmpty(id));
        Assert.Equal("""{"city":"Paris"}""", arguments.ToString());
    }

    [Fact]
    public async Task OpenAIDotNet_ChatsThroughTheGateway_StreamingAndNot()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hello", " there")));
        var client = new ChatClient(Key, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(proxy.GatewayUrl, "v1") });

        var text = new System.Text.StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")]);

        Assert.Equal("Hello there", text.ToString());
        Assert.False(string.IsNullOrEmpty(completion.Content[0].Text));
        Assert.Equal(Key, completion.Model);
    }
}
