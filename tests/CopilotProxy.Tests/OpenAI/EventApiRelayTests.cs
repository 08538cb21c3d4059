using System.Text.Json;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>
/// The gateway's <c>/v1/responses</c> and <c>/v1/messages</c> as full relays in front of LM Studio's own (0.3.29+, 0.4.1+):
/// alias ⇄ upstream key both ways, config defaults, auth, per-event streaming, retries before the first byte, in-band
/// errors in each API's own shape, usage in the request log, and 501 for upstreams without the API.
/// </summary>
public sealed class EventApiRelayTests
{
    private static readonly string AliasConfig = $"""
        model_list:
          - model_name: coder
            litellm_params:
              model: openai/{Key}
              max_tokens: 777
              temperature: 0.25
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ResponsesStream_NamedEventsPerEvent_ModelIsTheAliasBothWays_DefaultsInTheApisSpelling()
    {
        await using var proxy = await ProxyFixture.StartAsync(config: Config(AliasConfig));
        proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.ResponsesText(Key, "Hello", " there")));

        var answer = await SendAsync(proxy.Gateway, Post("v1/responses", """{"model":"coder","input":"hi","stream":true}"""));
        var events = ParseEvents(answer.Text);

        Assert.Equal(200, answer.Status);
        Assert.StartsWith("text/event-stream", answer.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.All(events, e => Assert.Equal(e.Name, e.Data.GetProperty("type").GetString()));
        Assert.Equal("response.created", events[0].Name);
        Assert.Equal("response.completed", events[^1].Name);
        Assert.Equal("coder", events[0].Data.GetProperty("response").GetProperty("model").GetString());
        Assert.Equal("coder", events[^1].Data.GetProperty("response").GetProperty("model").GetString());
        Assert.Equal("Hello there", string.Concat(events.Where(e => e.Name == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString())));
        Assert.DoesNotContain(Key, answer.Text, StringComparison.Ordinal);
        var upstream = proxy.Upstream.Requests.Single(r => r.Path == "/v1/responses").Json!;
        Assert.Equal(Key, (string?)upstream["model"]);
        Assert.Equal(777, (int?)upstream["max_output_tokens"]);
        Assert.Equal(0.25, (double?)upstream["temperature"]);
        Assert.Null(upstream["max_tokens"]);
    }

    [Fact]
    public async Task MessagesStream_WithToolUse_AcceptsXApiKeyAndAnthropicVersion_AndNamesEveryEvent()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = "sk-gw" }, config: Config(AliasConfig));
        proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.MessagesToolUse(Key, new FakeToolCall("get_weather", """{"city":"Paris"}"""), "Let me check.")));
        using var request = Post("v1/messages", """
            {"model":"coder","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Weather in Paris?"}],
             "tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}
            """, xApiKey: "sk-gw");
        request.Headers.Add("anthropic-version", "2023-06-01");

        var answer = await SendAsync(proxy.Gateway, request);
        var events = ParseEvents(answer.Text);

        Assert.Equal(200, answer.Status);
        Assert.Equal(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "content_block_start"], events.Take(5).Select(e => e.Name));
        Assert.Equal("message_stop", events[^1].Name);
        Assert.Equal("coder", events[0].Data.GetProperty("message").GetProperty("model").GetString());
        var toolUse = events[4].Data.GetProperty("content_block");
        Assert.Equal("tool_use", toolUse.GetProperty("type").GetString());
        Assert.Equal("get_weather", toolUse.GetProperty("name").GetString());
        Assert.Equal("""{"city":"Paris"}""", string.Concat(events.Where(e => e.Name == "content_block_delta" && e.Data.GetProperty("index").GetInt32() == 1)
            .Select(e => e.Data.GetProperty("delta").GetProperty("partial_json").GetString())));
        Assert.Equal("tool_use", events.Single(e => e.Name == "message_delta").Data.GetProperty("delta").GetProperty("stop_reason").GetString());
        var upstream = proxy.Upstream.Requests.Single(r => r.Path == "/v1/messages").Json!;
        Assert.Equal(Key, (string?)upstream["model"]);
        // The client set max_tokens; the entry's default must not override it.
        Assert.Equal(256, (int?)upstream["max_tokens"]);
    }

    [Fact]
    public async Task Messages_WrongKey_401InAnthropicsShape()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = "sk-gw" });

        var answer = await SendAsync(proxy.Gateway, Post("v1/messages", $$"""{"model":"{{Key}}","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""", xApiKey: "sk-wrong"));

        Assert.Equal(401, answer.Status);
        Assert.Equal("error", answer.Body.GetProperty("type").GetString());
        Assert.Equal("authentication_error", answer.Body.GetProperty("error").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("v1/responses")]
    [InlineData("responses")]
    [InlineData("v1/messages")]
    [InlineData("messages")]
    public async Task NonStreaming_ModelRenamed_UsageInTheRequestLog(string path)
    {
        var directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));
        try
        {
            Answer answer;
            await using (var proxy = await ProxyFixture.StartAsync(configure: s => s with { LogDir = directory, LogLevel = LogLevel.Information }, config: Config(AliasConfig)))
            {
                proxy.Upstream.Enqueue(FakeResponse.Json(200, path.EndsWith("messages", StringComparison.Ordinal)
                    ? LmStudioEventStreams.MessagesJson(Key, "Hi!", inputTokens: 31, outputTokens: 4)
                    : LmStudioEventStreams.ResponsesJson(Key, "Hi!", inputTokens: 31, outputTokens: 4)));
                answer = await SendAsync(proxy.Gateway, Post(path, """{"model":"coder","input":"hi","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"""));
            }

            Assert.Equal(200, answer.Status);
            Assert.Equal("coder", answer.Body.GetProperty("model").GetString());
            var line = Assert.Single(Directory.GetFiles(directory).SelectMany(File.ReadAllLines), l => l.Contains("\"Route\":\"/" + path + "\"", StringComparison.Ordinal));
            Assert.Contains("\"PromptTokens\":31", line, StringComparison.Ordinal);
            Assert.Contains("\"CompletionTokens\":4", line, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task StreamUsage_ReachesTheRequestLog()
    {
        var directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var proxy = await ProxyFixture.StartAsync(configure: s => s with { LogDir = directory, LogLevel = LogLevel.Information }))
            {
                proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.Messages(Key, ["a", "b", "c"], null, inputTokens: 42)));
                proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.Responses(Key, ["x", "y"], null, inputTokens: 17)));
                await SendAsync(proxy.Gateway, Post("v1/messages", $$"""{"model":"{{Key}}","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
                await SendAsync(proxy.Gateway, Post("v1/responses", $$"""{"model":"{{Key}}","stream":true,"input":"hi"}"""));
            }

            var lines = Directory.GetFiles(directory).SelectMany(File.ReadAllLines).ToList();
            var messages = Assert.Single(lines, l => l.Contains("\"Route\":\"/v1/messages\"", StringComparison.Ordinal));
            var responses = Assert.Single(lines, l => l.Contains("\"Route\":\"/v1/responses\"", StringComparison.Ordinal));
            Assert.Contains("\"PromptTokens\":42", messages, StringComparison.Ordinal);
            Assert.Contains("\"CompletionTokens\":3", messages, StringComparison.Ordinal);
            Assert.Contains("\"PromptTokens\":17", responses, StringComparison.Ordinal);
            Assert.Contains("\"CompletionTokens\":2", responses, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task UpstreamFailsBeforeTheFirstByte_RetriedInvisibly()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(503, "Model is still loading"));
        proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.ResponsesText(Key, "ok")));

        var answer = await SendAsync(proxy.Gateway, Post("v1/responses", $$"""{"model":"{{Key}}","input":"hi","stream":true}"""));

        Assert.Equal(200, answer.Status);
        Assert.Equal("response.completed", ParseEvents(answer.Text)[^1].Name);
        Assert.Equal(2, proxy.Upstream.CountOf("/v1/responses"));
    }

    [Theory]
    [InlineData("v1/responses", "/v1/responses")]
    [InlineData("v1/messages", "/v1/messages")]
    public async Task ClientLeavesMidStream_TheUpstreamRequestIsCanceled(string path, string upstreamPath)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var events = path.EndsWith("messages", StringComparison.Ordinal)
            ? LmStudioEventStreams.MessagesText(Key, [.. Enumerable.Repeat(" word", 50)])
            : LmStudioEventStreams.ResponsesText(Key, [.. Enumerable.Repeat(" word", 50)]);
        proxy.Upstream.Enqueue(FakeResponse.Events(events, delayBetween: TimeSpan.FromSeconds(30)));
        // No response draining: HttpClient would otherwise keep reading a disposed response to reuse the connection.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = proxy.GatewayUrl };

        var response = await ProxyFixture.SendStreamingAsync(client, Post(path, $$"""{"model":"{{Key}}","input":"hi","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
        var stream = await response.Content.ReadAsStreamAsync(Ct);
        var first = new byte[64];
        var read = await stream.ReadAsync(first, Ct);
        response.Dispose();

        var canceled = await proxy.Upstream.NextClientDisconnectAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(upstreamPath, canceled.Path);
        Assert.StartsWith("event: ", System.Text.Encoding.UTF8.GetString(first, 0, read), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResponsesStreamBreaks_EndsWithResponseFailed()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.ResponsesText(Key, "Half", " an", " answer"), dropAfter: 5));

        var answer = await SendAsync(proxy.Gateway, Post("v1/responses", $$"""{"model":"{{Key}}","input":"hi","stream":true}"""));
        var events = ParseEvents(answer.Text);

        Assert.Equal(200, answer.Status);
        Assert.Equal("response.failed", events[^1].Name);
        var failed = events[^1].Data.GetProperty("response");
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Equal(events[0].Data.GetProperty("response").GetProperty("id").GetString(), failed.GetProperty("id").GetString());
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, failed.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(events[^2].Data.GetProperty("sequence_number").GetInt32() + 1, events[^1].Data.GetProperty("sequence_number").GetInt32());
    }

    [Fact]
    public async Task MessagesStreamBreaks_EndsWithAnthropicsErrorEvent()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.MessagesText(Key, "Half", " an", " answer"), dropAfter: 3));

        var answer = await SendAsync(proxy.Gateway, Post("v1/messages", $$"""{"model":"{{Key}}","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
        var events = ParseEvents(answer.Text);

        Assert.Equal(200, answer.Status);
        Assert.Equal("error", events[^1].Name);
        Assert.Equal("api_error", events[^1].Data.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, events[^1].Data.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamInBandError_RelayedInTheApisShape()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(["""{"error":{"code":500,"message":"The model produced output that does not match the expected peg-native format"}}"""]));

        var answer = await SendAsync(proxy.Gateway, Post("v1/responses", $$"""{"model":"{{Key}}","input":"hi","stream":true}"""));
        var last = ParseEvents(answer.Text)[^1];

        Assert.Equal("response.failed", last.Name);
        Assert.Contains("peg-native", last.Data.GetProperty("response").GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FakeApiLevel.V1, "v1/responses", "0.3.29")]
    [InlineData(FakeApiLevel.OpenAIOnly, "responses", "0.3.29")]
    public async Task Responses_UpstreamWithoutThem_501InOpenAIShape_NamingTheUpstreamAndVersion(FakeApiLevel level, string path, string version)
    {
        await using var proxy = await ProxyFixture.StartAsync(apiLevel: level);
        proxy.Upstream.ResponsesApi = false;

        var answer = await SendAsync(proxy.Gateway, Post(path, $$"""{"model":"{{Key}}","input":"hi","stream":true}"""));

        Assert.Equal(501, answer.Status);
        Assert.Equal("unsupported_endpoint", answer.ErrorCode);
        var message = answer.Body.GetProperty("error").GetProperty("message").GetString();
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, message, StringComparison.Ordinal);
        Assert.Contains(version, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FakeApiLevel.V1)]
    [InlineData(FakeApiLevel.OpenAIOnly)]
    public async Task Messages_UpstreamWithoutThem_501InAnthropicsShape(FakeApiLevel level)
    {
        await using var proxy = await ProxyFixture.StartAsync(apiLevel: level);
        proxy.Upstream.MessagesApi = false;

        var answer = await SendAsync(proxy.Gateway, Post("v1/messages", $$"""{"model":"{{Key}}","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(501, answer.Status);
        Assert.Equal("error", answer.Body.GetProperty("type").GetString());
        var message = answer.Body.GetProperty("error").GetProperty("message").GetString();
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, message, StringComparison.Ordinal);
        Assert.Contains("0.4.1", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Messages_UnknownModel_404InAnthropicsShape()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var answer = await SendAsync(proxy.Gateway, Post("v1/messages", """{"model":"claude-opus","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(404, answer.Status);
        Assert.Equal("not_found_error", answer.Body.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(Key, answer.Body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OllamaFrontDoor_ServesResponsesToo_AsRealOllamaDoes()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var answer = await SendAsync(proxy.Ollama, Post("v1/responses", $$"""{"model":"{{Key}}:latest","input":"hi","stream":true}"""));

        Assert.Equal(200, answer.Status);
        var events = ParseEvents(answer.Text);
        Assert.Equal($"{Key}:latest", events[^1].Data.GetProperty("response").GetProperty("model").GetString());
    }

    internal static List<(string Name, JsonElement Data)> ParseEvents(string sse)
    {
        var events = new List<(string, JsonElement)>();
        foreach (var block in sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null;
            string? data = null;
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line["data: ".Length..];
                }
            }

            if (data is not null)
            {
                Assert.NotNull(name);
                events.Add((name, JsonDocument.Parse(data).RootElement.Clone()));
            }
        }

        return events;
    }
}
