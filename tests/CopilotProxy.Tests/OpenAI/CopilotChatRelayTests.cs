using System.Net;
using System.Text;
using System.Text.Json;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>Agent-mode chat as Copilot does it: /v1/chat/completions on the Ollama front door, parsed with Copilot's own rules.</summary>
public sealed class CopilotChatRelayTests
{
    private const string Key = "qwen/qwen3-8b";
    private const string ClientModel = "qwen/qwen3-8b:latest";

    private static async Task<CopilotTurn> ChatAsync(ProxyFixture proxy, string? body = null, string path = "v1/chat/completions")
    {
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost(path, body ?? CopilotRequests.Chat(ClientModel)));
        return await CopilotSseParser.ParseAsync(response);
    }

    [Fact]
    public async Task FragmentedToolCall_CopilotRunsItWithParsedArguments()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.ToolCalls(Key, new FakeToolCall("get_weather", """{"city":"Paris","unit":"c"}""")).Usage(40, 12)));

        var turn = await ChatAsync(proxy);

        Assert.Null(turn.Error);
        Assert.Equal("tool_calls", turn.FinishReason);
        var call = Assert.Single(turn.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments.GetProperty("city").GetString());
        Assert.Equal("c", call.Arguments.GetProperty("unit").GetString());
        Assert.Equal(40, turn.Usage?.PromptTokens);
        Assert.Empty(turn.Malformed);
    }

    [Fact]
    public async Task UpstreamReceivesItsOwnKey_ClientSeesTheNameItUsed()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hi")));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel)));
        var body = await response.Content.ReadAsStringAsync();

        var sent = proxy.Upstream.Requests.Single(r => r.Path == "/v1/chat/completions");
        Assert.Equal(Key, sent.Model);
        Assert.Contains($"\"model\":\"{ClientModel}\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain($"\"model\":\"{Key}\"", body, StringComparison.Ordinal);
        // Everything else the client sent reaches the upstream untouched.
        Assert.Equal(0.1, sent.Json!["temperature"]!.GetValue<double>());
        Assert.Equal("get_weather", sent.Json["tools"]![0]!["function"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task ServerTiming_NamesTheProxysTimeAndTheUpstreams_InMilliseconds()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hi")));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel)));
        var elapsed = clock.Elapsed.TotalMilliseconds;

        // Browsers' network panels and `curl -v` read it as W3C Server-Timing: `name;dur=<milliseconds>`.
        var timing = Assert.Single(response.Headers.GetValues("Server-Timing"));
        var match = System.Text.RegularExpressions.Regex.Match(timing, @"^proxy;dur=(\d+(?:\.\d+)?), upstream;dur=(\d+(?:\.\d+)?)$");
        Assert.True(match.Success, timing);
        var proxyMs = double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var upstreamMs = double.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(upstreamMs > 0, timing);
        Assert.True(proxyMs + upstreamMs <= elapsed, $"{timing} against {elapsed:0.###} ms seen by the client");
    }

    [Fact]
    public async Task SequentialParallelToolCalls_EachArrivesWhole()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.ToolCalls(Key,
            new FakeToolCall("get_weather", """{"city":"Paris"}"""),
            new FakeToolCall("get_weather", """{"city":"Tokyo"}"""))));

        var turn = await ChatAsync(proxy);

        Assert.Equal(["Paris", "Tokyo"], turn.ToolCalls.Select(c => c.Arguments.GetProperty("city").GetString()));
        Assert.Equal(2, turn.ToolCalls.Select(c => c.Id).Distinct().Count());
    }

    [Fact]
    public async Task EmptyToolCallIds_AreReplacedWithDistinctIds()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.ToolCalls(Key, new ToolCallStreamOptions { EmptyIds = true },
            new FakeToolCall("get_weather", """{"city":"Paris"}"""),
            new FakeToolCall("get_weather", """{"city":"Oslo"}"""))));

        var turn = await ChatAsync(proxy);

        Assert.Equal(2, turn.ToolCalls.Count);
        Assert.All(turn.ToolCalls, c => Assert.False(string.IsNullOrEmpty(c.Id)));
        Assert.NotEqual(turn.ToolCalls[0].Id, turn.ToolCalls[1].Id);
        Assert.Equal(["Paris", "Oslo"], turn.ToolCalls.Select(c => c.Arguments.GetProperty("city").GetString()));
    }

    [Fact]
    public async Task TextSharingADeltaWithToolCalls_IsNotLost()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.ToolCalls(Key, new ToolCallStreamOptions { TextInSameDelta = "Let me check. " },
            new FakeToolCall("get_weather", """{"city":"Paris"}"""))));

        var turn = await ChatAsync(proxy);

        // Copilot itself appends a space before the first tool call; what matters is that the text survived.
        Assert.Equal("Let me check.", turn.Text.TrimEnd());
        Assert.Equal("Paris", Assert.Single(turn.ToolCalls).Arguments.GetProperty("city").GetString());
    }

    [Fact]
    public async Task MissingFinishReason_IsSynthesisedSoCopilotRunsTheCall()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(new LmStudioSse(Key).ToolCalls(new FakeToolCall("get_weather", """{"city":"Rome"}"""))));

        var turn = await ChatAsync(proxy);

        Assert.Equal("tool_calls", turn.FinishReason);
        Assert.True(turn.SawDone);
        Assert.Equal("Rome", Assert.Single(turn.ToolCalls).Arguments.GetProperty("city").GetString());
    }

    [Fact]
    public async Task StopAfterToolCalls_IsReportedAsToolCalls()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(new LmStudioSse(Key).ToolCalls(new FakeToolCall("get_weather", """{"city":"Rome"}""")).Finish("stop")));

        var turn = await ChatAsync(proxy);

        Assert.Equal("tool_calls", turn.FinishReason);
        Assert.Single(turn.ToolCalls);
    }

    [Fact]
    public async Task ReasoningContent_IsShownAsThinking_AndKeptForOtherClients()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key, reasoning: true)]);
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Reasoning(Key, ["Let me ", "think."], ["The answer ", "is 4."])));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel, tools: false)));
        var body = await response.Content.ReadAsStringAsync();
        var turn = CopilotSseParser.Parse(body);

        Assert.Equal("Let me think.", turn.Thinking);
        Assert.Equal("The answer is 4.", turn.Text);
        Assert.Contains("\"reasoning_content\":\"Let me \"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GptOssReasoningField_IsShownAsThinking()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key, reasoning: true)]);
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Reasoning(Key, ["Plan."], ["Done."], field: "reasoning")));

        var turn = await ChatAsync(proxy, CopilotRequests.Chat(ClientModel, tools: false));

        Assert.Equal("Plan.", turn.Thinking);
        Assert.Equal("Done.", turn.Text);
    }

    [Fact]
    public async Task OutputIsDataLinesOnly_AndEndsWithDone()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.RawSse("event: message\ndata: " + new LmStudioSse(Key).Content("Hi").Finish().First() + "\n\n: keep-alive\n\ndata: [DONE]\n\n"));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel)));
        var body = await response.Content.ReadAsStringAsync();

        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.StartsWith("data: ", l, StringComparison.Ordinal));
        Assert.Equal("data: [DONE]", lines[^1]);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task UsageChunkWithEmptyChoices_ReachesTheClient()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hi").Usage(61, 8)));

        var turn = await ChatAsync(proxy, CopilotRequests.Chat(ClientModel, tools: false));

        Assert.Equal(new CopilotUsage(61, 8, 69), turn.Usage);
        Assert.Empty(turn.Anomalies);
    }

    [Fact]
    public async Task ChatCompletionsWithoutV1_IsServedForCopilot037()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hello")));

        var turn = await ChatAsync(proxy, path: "chat/completions");

        Assert.Equal("Hello", turn.Text);
    }

    [Fact]
    public async Task EventsAreFlushedAsTheyArrive_NotBuffered()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var stream = LmStudioStreams.Text(Key, "first", "second").ToList();
        // The second event comes a minute later: a buffering proxy would show nothing until then.
        proxy.Upstream.Enqueue(FakeResponse.Sse(stream, delayBetween: TimeSpan.FromSeconds(60)));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel)));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = await reader.ReadLineAsync(timeout.Token);

        Assert.NotNull(first);
        Assert.StartsWith("data: {", first, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NonStreamingCompletion_HasClientModelAndToolCallIds()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Json(200, $$$"""
            {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"{{{Key}}}","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8},"stats":{"tokens_per_second":42}}
            """));

        using var response = await proxy.Ollama.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel, stream: false)));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var root = json.RootElement;
        Assert.Equal(ClientModel, root.GetProperty("model").GetString());
        var choice = root.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.StartsWith("call_", choice.GetProperty("message").GetProperty("tool_calls")[0].GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(42, root.GetProperty("stats").GetProperty("tokens_per_second").GetInt32());
    }
}
