using System.ClientModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;
using OpenAI;
using OpenAI.Chat;

namespace CopilotProxy.Tests.Loading;

/// <summary>
/// Copilot's first agent request against an LM Studio whose model is unloaded, loaded too small, or slow to load: the
/// upstream calls the proxy makes (from the fake's call log), the heartbeats Copilot's parser and the OpenAI SDK skip,
/// and the explained context overflow.
/// </summary>
public sealed class AgentRequestTests(ITestOutputHelper output)
{
    private const string Key = "qwen/qwen3-coder-30b";
    private const string ClientModel = Key + ":latest";

    private static FakeModel Model(int? loaded) => FakeModel.Llm(Key, loadedContextLength: loaded) with { MaxContextLength = 131072 };

    private static Task<ProxyFixture> StartAsync(int? loaded, int floor = 32768, int heartbeatSeconds = 10, FakeApiLevel level = FakeApiLevel.V1) =>
        ProxyFixture.StartAsync([Model(loaded)], level, s => s with { MinContextLength = floor, StreamHeartbeat = TimeSpan.FromSeconds(heartbeatSeconds) });

    /// <summary>A Copilot agent request whose system prompt and tools are about <paramref name="promptTokens"/> tokens (the fake counts 4 bytes a token).</summary>
    private static string AgentRequest(int promptTokens)
    {
        var system = new string('x', promptTokens * 4);
        return $$"""{"model":"{{ClientModel}}","messages":[{"role":"system","content":"{{system}}"},{"role":"user","content":"Fix the bug."}],"stream":true,"stream_options":{"include_usage":true},"tools":[{{CopilotRequests.WeatherTool}}]}""";
    }

    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient client, string path, string json)
    {
        using var response = await ProxyFixture.SendStreamingAsync(client, ProxyFixture.CopilotPost(path, json));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private void Print(string title, FakeLmStudio fake) =>
        Print(string.Join('\n', [title, .. fake.CallLog().Select(line => "  " + line)]));

    /// <summary>To the test output, and to the file CALL_LOG_FILE names, so the sequences can be read without a failing test.</summary>
    private void Print(string text)
    {
        output.WriteLine(text);
        if (Environment.GetEnvironmentVariable("CALL_LOG_FILE") is { Length: > 0 } file)
        {
            File.AppendAllText(file, text + "\n");
        }
    }

    private static List<string> Calls(FakeLmStudio fake) =>
        [.. fake.CallLog().Where(l => !l.StartsWith("GET /api/v1/models", StringComparison.Ordinal) && !l.StartsWith("GET /v1/models", StringComparison.Ordinal))];

    [Fact]
    public async Task FirstAgentRequest_ToAnUnloadedModel_LoadsItWithTheFloorThenSendsTheChat()
    {
        await using var proxy = await StartAsync(loaded: null);

        var (status, body) = await PostAsync(proxy.Ollama, "v1/chat/completions", AgentRequest(20000));

        Print("First agent request, model not loaded:", proxy.Upstream);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(proxy.Upstream.DefaultReply, CopilotSseParser.Parse(body).Text);
        Assert.Equal(
            [$$"""POST /api/v1/models/load {"model":"{{Key}}","context_length":32768}""", $$"""POST /v1/chat/completions {"model":"{{Key}}","stream":true}"""],
            Calls(proxy.Upstream));
    }

    [Fact]
    public async Task AgentRequest_ToAModelLoadedAt4096_ReloadsItOnceThenSendsTheChat()
    {
        await using var proxy = await StartAsync(loaded: 4096);

        var (status, body) = await PostAsync(proxy.Ollama, "v1/chat/completions", AgentRequest(20000));
        var (again, _) = await PostAsync(proxy.Ollama, "v1/chat/completions", AgentRequest(20000));

        Print("Agent requests, model loaded at 4096:", proxy.Upstream);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(proxy.Upstream.DefaultReply, CopilotSseParser.Parse(body).Text);
        Assert.Equal(
            [
                $$"""POST /api/v1/models/unload {"instance_id":"{{Key}}"}""",
                $$"""POST /api/v1/models/load {"model":"{{Key}}","context_length":32768}""",
                $$"""POST /v1/chat/completions {"model":"{{Key}}","stream":true}""",
                $$"""POST /v1/chat/completions {"model":"{{Key}}","stream":true}""",
            ],
            Calls(proxy.Upstream));
    }

    [Fact]
    public async Task TwoConcurrentFirstRequests_ShareOneLoad()
    {
        await using var proxy = await StartAsync(loaded: null);
        proxy.Upstream.LoadDelay = TimeSpan.FromSeconds(1);

        var answers = await Task.WhenAll(
            PostAsync(proxy.Ollama, "v1/chat/completions", AgentRequest(20000)),
            PostAsync(proxy.Gateway, "v1/chat/completions", AgentRequest(20000).Replace(ClientModel, Key, StringComparison.Ordinal)));

        Print("Two concurrent first requests:", proxy.Upstream);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.All(answers, a => Assert.Equal(proxy.Upstream.DefaultReply, CopilotSseParser.Parse(a.Body).Text));
        Assert.Equal(
            [
                $$"""POST /api/v1/models/load {"model":"{{Key}}","context_length":32768}""",
                $$"""POST /v1/chat/completions {"model":"{{Key}}","stream":true}""",
                $$"""POST /v1/chat/completions {"model":"{{Key}}","stream":true}""",
            ],
            Calls(proxy.Upstream));
    }

    [Fact]
    public async Task SlowLoad_HeartbeatsUntilTheFirstToken_CopilotSeesTheAnswer()
    {
        await using var proxy = await StartAsync(loaded: null, heartbeatSeconds: 1);
        proxy.Upstream.LoadDelay = TimeSpan.FromSeconds(3);

        var clock = Stopwatch.StartNew();
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", AgentRequest(20000)));
        var headers = clock.Elapsed;
        var body = new StringBuilder();
        TimeSpan? firstHeartbeat = null, firstToken = null;
        await using (var stream = await response.Content.ReadAsStreamAsync())
        {
            var buffer = new byte[4096];
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                body.Append(Encoding.UTF8.GetString(buffer, 0, read));
                var text = body.ToString();
                firstHeartbeat ??= text.Contains(": keep-alive", StringComparison.Ordinal) ? clock.Elapsed : null;
                firstToken ??= text.Contains("\"content\"", StringComparison.Ordinal) ? clock.Elapsed : null;
            }
        }

        var raw = body.ToString();
        var turn = CopilotSseParser.Parse(raw);
        Print(string.Create(CultureInfo.InvariantCulture,
            $"Load takes {proxy.Upstream.LoadDelay.TotalSeconds} s, STREAM_HEARTBEAT_SECONDS=1: headers after {headers.TotalMilliseconds:0} ms, first heartbeat after {firstHeartbeat?.TotalMilliseconds:0} ms, first token after {firstToken?.TotalMilliseconds:0} ms, {turn.CommentLines} heartbeat(s)"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(raw.IndexOf(": keep-alive\n\n", StringComparison.Ordinal) < raw.IndexOf("data:", StringComparison.Ordinal), raw);
        Assert.InRange(turn.CommentLines, 1, int.MaxValue);
        Assert.Equal(proxy.Upstream.DefaultReply, turn.Text);
        Assert.Null(turn.Error);
        Assert.Empty(turn.Malformed);
        Assert.True(turn.SawDone);
    }

    [Fact]
    public async Task SilenceMidStream_HeartbeatsBetweenEvents()
    {
        await using var proxy = await StartAsync(loaded: 65536, heartbeatSeconds: 1);
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hello", " there"), delayBetween: TimeSpan.FromSeconds(2.5)));

        var (status, body) = await PostAsync(proxy.Ollama, "v1/chat/completions", CopilotRequests.Chat(ClientModel));

        var turn = CopilotSseParser.Parse(body);
        Assert.Equal(HttpStatusCode.OK, status);
        var first = body.IndexOf("data:", StringComparison.Ordinal);
        Assert.Contains(": keep-alive\n\n", body[first..], StringComparison.Ordinal);
        Assert.Equal("Hello there", turn.Text);
        Assert.Null(turn.Error);
        Assert.Empty(turn.Malformed);
    }

    [Fact]
    public async Task SlowJustInTimeLoad_WithTheFloorOff_StillHeartbeats()
    {
        await using var proxy = await StartAsync(loaded: null, floor: 0, heartbeatSeconds: 1);
        proxy.Upstream.LoadDelay = TimeSpan.FromSeconds(2.5);

        var (status, body) = await PostAsync(proxy.Ollama, "v1/chat/completions", CopilotRequests.Chat(ClientModel));

        var turn = CopilotSseParser.Parse(body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.InRange(turn.CommentLines, 1, int.MaxValue);
        Assert.Equal(proxy.Upstream.DefaultReply, turn.Text);
        Assert.DoesNotContain(Calls(proxy.Upstream), c => c.Contains("/load", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenAIDotNetSdk_IgnoresHeartbeats()
    {
        await using var proxy = await StartAsync(loaded: null, heartbeatSeconds: 1);
        proxy.Upstream.LoadDelay = TimeSpan.FromSeconds(2.5);
        var client = new ChatClient(Key, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(proxy.GatewayUrl, "v1") });

        var text = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal(proxy.Upstream.DefaultReply, text.ToString());
        Assert.Single(proxy.Upstream.Requests, r => r.Path == "/api/v1/models/load");
    }

    [Fact]
    public async Task FailedLoadAfterHeartbeats_EndsWithAnInBandErrorCopilotShows()
    {
        await using var proxy = await StartAsync(loaded: null, heartbeatSeconds: 1);
        proxy.Upstream.LoadDelay = TimeSpan.FromSeconds(2.5);
        proxy.Upstream.LoadFailure = "Failed to load model: not enough memory for the KV cache";

        var (status, body) = await PostAsync(proxy.Ollama, "v1/chat/completions", AgentRequest(20000));

        var turn = CopilotSseParser.Parse(body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.InRange(turn.CommentLines, 1, int.MaxValue);
        Assert.NotNull(turn.Error);
        Assert.Contains("could not load", turn.Error, StringComparison.Ordinal);
        Assert.Contains("not enough memory", turn.Error, StringComparison.Ordinal);
        Assert.Contains("MIN_CONTEXT_LENGTH", turn.Error, StringComparison.Ordinal);
        Assert.True(turn.SawDone);
        Assert.DoesNotContain(proxy.Upstream.Requests, r => r.Path == "/v1/chat/completions");
    }

    [Fact]
    public async Task FailedLoadWithoutHeartbeats_AnswersWithTheStatusAndTheFix()
    {
        await using var proxy = await StartAsync(loaded: null);
        proxy.Upstream.LoadFailure = "Failed to load model: not enough memory for the KV cache";

        var (status, body) = await PostAsync(proxy.Gateway, "v1/chat/completions", AgentRequest(100).Replace(ClientModel, Key, StringComparison.Ordinal));

        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains($"could not load {Key} with a 32768-token context: Failed to load model: not enough memory", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContextOverflow_OnLmStudio_NamesModelContextPromptAndFix()
    {
        await using var proxy = await StartAsync(loaded: 4096, floor: 0);

        var (status, body) = await PostAsync(proxy.Ollama, "v1/chat/completions", AgentRequest(20000));

        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        var message = error.GetProperty("message").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Contains(ClientModel, message, StringComparison.Ordinal);
        Assert.Contains("loaded with a context of only 4096 tokens", message, StringComparison.Ordinal);
        Assert.Matches(@"The prompt has \d{5} tokens", message);
        Assert.Contains("MIN_CONTEXT_LENGTH", message, StringComparison.Ordinal);
        Assert.Contains("reload the VS Code window", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContextOverflow_OnLlamaCpp_NamesTheServerFlags()
    {
        await using var proxy = await StartAsync(loaded: 4096, level: FakeApiLevel.OpenAIOnly);

        var (status, body) = await PostAsync(proxy.Ollama, "v1/chat/completions", AgentRequest(20000));

        var message = JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("loaded with a context of only 4096 tokens", message, StringComparison.Ordinal);
        Assert.Contains("-c", message, StringComparison.Ordinal);
        Assert.Contains("-np", message, StringComparison.Ordinal);
        Assert.DoesNotContain(proxy.Upstream.Requests, r => r.Path.StartsWith("/api/v1/models/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ContextOverflow_OnTheOllamaApi_SuggestsNumCtx()
    {
        await using var proxy = await StartAsync(loaded: 4096, floor: 0);
        var big = new string('x', 20000 * 4);

        var (status, body) = await PostAsync(proxy.Ollama, "api/chat", $$"""{"model":"{{ClientModel}}","messages":[{"role":"user","content":"{{big}}"}],"stream":false}""");

        var message = JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("loaded with a context of only 4096 tokens", message, StringComparison.Ordinal);
        Assert.Contains("num_ctx", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OllamaNumCtx_LoadsWithAtLeastThatContext_CappedAtTheMaximum()
    {
        await using var proxy = await StartAsync(loaded: 32768);

        var (status, _) = await PostAsync(proxy.Ollama, "api/chat", $$$"""{"model":"{{{ClientModel}}}","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_ctx":65536}}""");
        var (capped, _) = await PostAsync(proxy.Ollama, "api/generate", $$$"""{"model":"{{{ClientModel}}}","prompt":"hi","stream":false,"options":{"num_ctx":1000000}}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, capped);
        Assert.Equal([65536, 131072], proxy.Upstream.Requests.Where(r => r.Path == "/api/v1/models/load").Select(r => (int)r.Json!["context_length"]!));
    }

    [Fact]
    public async Task Ps_ExpiresAt_ComesFromKeepAlive()
    {
        await using var proxy = await StartAsync(loaded: 32768);

        var before = DateTimeOffset.UtcNow;
        await PostAsync(proxy.Ollama, "api/chat", $$"""{"model":"{{ClientModel}}","messages":[{"role":"user","content":"hi"}],"stream":false,"keep_alive":"10m"}""");
        using var ps = await proxy.Ollama.GetAsync("api/ps");
        var model = JsonDocument.Parse(await ps.Content.ReadAsStringAsync()).RootElement.GetProperty("models")[0];

        var expires = model.GetProperty("expires_at").GetDateTimeOffset();
        Assert.InRange(expires, before.AddMinutes(10), DateTimeOffset.UtcNow.AddMinutes(10));
    }

    [Fact]
    public async Task OllamaTimings_CountAndDurationDescribeTheSameTokens()
    {
        await using var proxy = await StartAsync(loaded: 32768);
        proxy.Upstream.Enqueue(FakeResponse.Sse(
        [
            $$"""{"id":"c","object":"chat.completion.chunk","created":1,"model":"{{Key}}","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}""",
            $$"""{"id":"c","object":"chat.completion.chunk","created":1,"model":"{{Key}}","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""",
            $$$"""{"id":"c","object":"chat.completion.chunk","created":1,"model":"{{{Key}}}","choices":[],"usage":{"completion_tokens":1,"prompt_tokens":61,"total_tokens":62},"timings":{"cache_n":40,"prompt_n":21,"prompt_ms":5.5,"predicted_n":1,"predicted_ms":2.0}}""",
            "[DONE]",
        ]));

        var (_, body) = await PostAsync(proxy.Ollama, "api/chat", $$"""{"model":"{{ClientModel}}","messages":[{"role":"user","content":"hi"}],"stream":false}""");

        var answer = JsonNode.Parse(body)!;
        Assert.Equal(21, (int)answer["prompt_eval_count"]!);
        Assert.Equal(5_500_000, (long)answer["prompt_eval_duration"]!);
    }
}
