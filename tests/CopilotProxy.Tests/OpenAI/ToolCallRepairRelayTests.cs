using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.Ollama;
using CopilotProxy.OpenAI;
using CopilotProxy.Tests.Harness;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>
/// Tool calls a local model wrote as text reach the client as real tool calls: through the relay on both front doors
/// (parsed with Copilot's own rules), without streaming, and through the Ollama /api/chat translation.
/// </summary>
public sealed class ToolCallRepairRelayTests
{
    private const string Key = "qwen/qwen3-8b";
    private const string ClientModel = "qwen/qwen3-8b:latest";
    private const string Call = """{"name": "get_weather", "arguments": {"city": "Zürich"}}""";
    private const string QwenBlock = "<tool_call>\n" + Call + "\n</tool_call>";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, bool> Forms => new()
    {
        // front door, content, Qwen's special tokens (false: the tags arrive in pieces, as from a model that drifted)
        { "ollama", QwenBlock, true },
        { "gateway", QwenBlock, true },
        { "ollama", QwenBlock, false },
        { "gateway", "```json\n" + Call + "\n```", false },
        { "ollama", Call, false },
        { "gateway", "[" + Call + "]", false },
        { "ollama", """{"name":"get_weather","arguments":"{\"city\":\"Zürich\"}"}""", false },
    };

    private static async Task<CopilotTurn> CopilotChatAsync(ProxyFixture proxy, string door, string? body = null)
    {
        var client = door == "ollama" ? proxy.Ollama : proxy.Gateway;
        using var response = await ProxyFixture.SendStreamingAsync(client, ProxyFixture.CopilotPost("v1/chat/completions", body ?? CopilotRequests.Chat(ClientModel)));
        return await CopilotSseParser.ParseAsync(response, Ct);
    }

    private static async Task<ProxyFixture> StartAsync(string reply, bool specialTokens = true, bool repair = true)
    {
        var proxy = await ProxyFixture.StartAsync(configure: s => s with { ToolCallRepair = repair });
        proxy.Upstream.DefaultReply = reply;
        proxy.Upstream.ReplyTokenizer = text => LmStudioTokens.Split(text, specialTokens);
        return proxy;
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task ToolCallWrittenAsText_CopilotRunsIt(string door, string content, bool specialTokens)
    {
        await using var proxy = await StartAsync(content, specialTokens);

        var turn = await CopilotChatAsync(proxy, door);

        Assert.Null(turn.Error);
        Assert.Equal("", turn.Text);
        Assert.Equal("tool_calls", turn.FinishReason);
        var call = Assert.Single(turn.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.True(call.ArgumentsValid, call.RawArguments);
        Assert.Equal("Zürich", call.Arguments.GetProperty("city").GetString());
        Assert.StartsWith("call_", call.Id, StringComparison.Ordinal);
        Assert.Empty(turn.Anomalies);
        Assert.Empty(turn.Malformed);
        Assert.True(turn.SawDone);
    }

    [Fact]
    public async Task TextBeforeTheBlock_StaysText_AndTheCallFollows()
    {
        await using var proxy = await StartAsync("<think>The user wants weather.</think>\n\nLet me check.\n" + QwenBlock);

        var turn = await CopilotChatAsync(proxy, "ollama");

        // Copilot adds a space after text that a tool call follows (its linkifier flush). The reasoning is its thinking (REASONING_TAGS).
        Assert.Equal("Let me check.\n ", turn.Text);
        Assert.Equal("The user wants weather.", turn.Thinking);
        Assert.Equal("get_weather", Assert.Single(turn.ToolCalls).Name);
        Assert.Equal("tool_calls", turn.FinishReason);
        Assert.Empty(turn.Anomalies);
    }

    [Theory]
    [InlineData("<tool_call>\n{\"name\": \"delete_repo\", \"arguments\": {}}\n</tool_call>")]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>")]
    [InlineData("Grüße! Here is an example: {\"name\": \"get_weather\"} — and <b>bold</b> 日本 🎉")]
    [InlineData("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}} is what I would call.")]
    public async Task TextThatIsNoValidToolCall_ArrivesUnchanged(string content)
    {
        await using var proxy = await StartAsync(content);

        var turn = await CopilotChatAsync(proxy, "gateway");

        Assert.Equal(content, turn.Text);
        Assert.Empty(turn.ToolCalls);
        Assert.Equal("stop", turn.FinishReason);
    }

    [Fact]
    public async Task BlockCutOffByTheTokenLimit_ArrivesAsText()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var tokens = LmStudioTokens.Split("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"ci");
        proxy.Upstream.Enqueue(FakeResponse.Sse(new LmStudioSse(Key).Content(tokens).Finish("length")));

        var turn = await CopilotChatAsync(proxy, "ollama");

        Assert.Equal(string.Concat(tokens), turn.Text);
        Assert.Empty(turn.ToolCalls);
        Assert.Equal("length", turn.FinishReason);
    }

    [Fact]
    public async Task RepairTurnedOff_TheTextArrivesAsText()
    {
        await using var proxy = await StartAsync(QwenBlock, repair: false);

        var turn = await CopilotChatAsync(proxy, "ollama");

        Assert.Equal(QwenBlock, turn.Text);
        Assert.Empty(turn.ToolCalls);
    }

    [Fact]
    public async Task RequestWithoutTools_TheTextArrivesAsText()
    {
        await using var proxy = await StartAsync(QwenBlock);

        var turn = await CopilotChatAsync(proxy, "gateway", CopilotRequests.Chat(ClientModel, tools: false));

        Assert.Equal(QwenBlock, turn.Text);
        Assert.Empty(turn.ToolCalls);
    }

    [Theory]
    [InlineData("ollama")]
    [InlineData("gateway")]
    public async Task NotStreaming_TheAnswerHasTheToolCall(string door)
    {
        await using var proxy = await StartAsync("Checking.\n" + QwenBlock);
        var client = door == "ollama" ? proxy.Ollama : proxy.Gateway;

        using var response = await client.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel, stream: false)), Ct);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var choice = answer["choices"]![0]!;
        Assert.Equal("tool_calls", (string?)choice["finish_reason"]);
        Assert.Equal("Checking.\n", (string?)choice["message"]!["content"]);
        var call = choice["message"]!["tool_calls"]![0]!;
        Assert.StartsWith("call_", (string?)call["id"], StringComparison.Ordinal);
        Assert.Equal("function", (string?)call["type"]);
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("Zürich", (string?)JsonNode.Parse((string)call["function"]!["arguments"]!)!["city"]);
    }

    [Fact]
    public async Task Repairs_AreCountedPerModelInTheMetrics()
    {
        await using var proxy = await StartAsync(QwenBlock);

        await CopilotChatAsync(proxy, "ollama");
        await CopilotChatAsync(proxy, "gateway");
        var metrics = await proxy.Gateway.GetStringAsync("metrics", Ct);

        var line = Assert.Single(metrics.Split('\n'), l => l.StartsWith("copilot_proxy_tool_call_repairs_total{", StringComparison.Ordinal));
        Assert.Contains($"model=\"{Key}\"", line, StringComparison.Ordinal);
        Assert.Equal("2", line[(line.IndexOf("} ", StringComparison.Ordinal) + 2)..].Split(' ')[0]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OllamaChat_GetsAWholeToolCallWithObjectArguments(bool stream)
    {
        await using var proxy = await StartAsync("Sure.\n" + QwenBlock);
        var body = $$"""{"model":"{{ClientModel}}","messages":[{"role":"user","content":"Weather in Zürich?"}],"stream":{{(stream ? "true" : "false")}},"tools":[{{CopilotRequests.WeatherTool}}]}""";

        using var response = await proxy.Ollama.PostAsync("api/chat", new StringContent(body, Encoding.UTF8, "application/json"), Ct);
        var lines = (await response.Content.ReadAsStringAsync(Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Sure.\n", string.Concat(lines.Select(l => (string?)l["message"]!["content"])));
        var call = Assert.Single(lines.SelectMany(l => l["message"]!["tool_calls"]?.AsArray() ?? []))!;
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("Zürich", (string?)call["function"]!["arguments"]!["city"]);
        Assert.True((bool?)lines[^1]["done"]);
    }

    /// <summary>
    /// The relay itself, with the content split in two deltas at every character boundary (LM Studio never splits a UTF-8
    /// sequence) of a recorded Qwen answer with multi-byte text before the call: Copilot's parser always sees the same text
    /// and the same call.
    /// </summary>
    [Fact]
    public void RelayAtEverySplitPoint_CopilotSeesTheSameTextAndCall()
    {
        const string content = "Ich prüfe das Wetter in Zürich 🌤️ für dich.\n\n" + QwenBlock + "\n";
        for (var i = 1; i < content.Length; i++)
        {
            if (char.IsLowSurrogate(content[i]))
            {
                continue;
            }

            var stream = new LmStudioSse(Key).Content(content[..i], content[i..]).Finish("stop").Usage(30, 20);
            var body = RelayWithRepair(stream);
            var turn = CopilotSseParser.Parse(body);

            // Copilot adds a space after text that a tool call follows (its linkifier flush).
            Assert.Equal("Ich prüfe das Wetter in Zürich 🌤️ für dich.\n\n ", turn.Text);
            var call = Assert.Single(turn.ToolCalls);
            Assert.Equal("Zürich", call.Arguments.GetProperty("city").GetString());
            Assert.Equal("tool_calls", turn.FinishReason);
            Assert.Empty(turn.Anomalies);
            Assert.Equal(30, turn.Usage?.PromptTokens);
        }
    }

    [Fact]
    public void RelayAtEverySplitPoint_PlainTextIsUnchanged()
    {
        const string content = "Kein Werkzeug nötig: a < b, {x} und [y] — 東京 🎉 <tool";
        for (var i = 1; i < content.Length; i++)
        {
            if (char.IsLowSurrogate(content[i]))
            {
                continue;
            }

            var turn = CopilotSseParser.Parse(RelayWithRepair(new LmStudioSse(Key).Content(content[..i], content[i..]).Finish("stop")));

            Assert.Equal(content, turn.Text);
            Assert.Empty(turn.ToolCalls);
            Assert.Equal("stop", turn.FinishReason);
        }
    }

    [Fact]
    public void OllamaTranslationAtEverySplitPoint_EmitsTheSameTextAndCall()
    {
        const string content = "Ich prüfe 🌤️.\n" + QwenBlock;
        for (var i = 1; i < content.Length; i++)
        {
            if (char.IsLowSurrogate(content[i]))
            {
                continue;
            }

            var buffer = new ArrayBufferWriter<byte>();
            using (var translator = new ChunkTranslator(buffer, ClientModel, OllamaAnswerShape.Chat, stream: true, showThinking: true, Stopwatch.GetTimestamp(),
                new ToolCallRepair(["get_weather"], ClientModel, NullLogger.Instance)))
            {
                foreach (var payload in new LmStudioSse(Key).Content(content[..i], content[i..]).Finish("stop"))
                {
                    translator.HandleEvent(Encoding.UTF8.GetBytes(payload));
                }

                translator.WriteDone();
                Assert.Equal(1, translator.RepairedToolCalls);
            }

            var lines = Encoding.UTF8.GetString(buffer.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
            Assert.Equal("Ich prüfe 🌤️.\n", string.Concat(lines.Select(l => (string?)l["message"]!["content"])));
            var call = Assert.Single(lines.SelectMany(l => l["message"]!["tool_calls"]?.AsArray() ?? []))!;
            Assert.Equal("Zürich", (string?)call["function"]!["arguments"]!["city"]);
        }
    }

    private static string RelayWithRepair(IEnumerable<string> payloads)
    {
        using var body = new MemoryStream();
        var output = PipeWriter.Create(body, new StreamPipeWriterOptions(leaveOpen: true));
        using (var relay = new SseRelay(output, ClientModel, NullLogger.Instance, repair: new ToolCallRepair(["get_weather"], ClientModel, NullLogger.Instance)))
        {
            foreach (var payload in payloads)
            {
                relay.HandleEvent(Encoding.UTF8.GetBytes(payload));
            }
        }

        output.FlushAsync(Ct).AsTask().GetAwaiter().GetResult();
        output.Complete();
        return Encoding.UTF8.GetString(body.ToArray());
    }
}
