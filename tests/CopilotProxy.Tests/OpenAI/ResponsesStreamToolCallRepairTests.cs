using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.OpenAI;
using CopilotProxy.Tests.Harness;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>
/// A streamed <c>/v1/responses</c> answer whose text is a tool call reaches the client as <c>function_call</c> output
/// items, in an event stream a strict Responses parser accepts; text that is not a call reaches it unchanged.
/// </summary>
public sealed class ResponsesStreamToolCallRepairTests
{
    private const string Call = """{"name": "get_weather", "arguments": {"city": "Zürich"}}""";
    private const string QwenBlock = "<tool_call>\n" + Call + "\n</tool_call>";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string Request = """{"model":"KEY","input":"Weather in Zürich?","stream":true,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}"""
        .Replace("KEY", Key, StringComparison.Ordinal);

    private static async Task<ProxyFixture> StartAsync(string reply, bool repair = true, bool specialTokens = false, string? logDir = null)
    {
        var proxy = await ProxyFixture.StartAsync(configure: s => logDir is null ? s with { ToolCallRepair = repair } : s with { ToolCallRepair = repair, LogDir = logDir, LogLevel = LogLevel.Information });
        proxy.Upstream.DefaultReply = reply;
        proxy.Upstream.ReplyTokenizer = text => LmStudioTokens.Split(text, specialTokens);
        return proxy;
    }

    private static async Task<(string Text, ResponsesOutcome Outcome)> StreamAsync(ProxyFixture proxy)
    {
        var answer = await SendAsync(proxy.Gateway, Post("v1/responses", Request));
        Assert.Equal(200, answer.Status);
        return (answer.Text, ResponsesOutcome.Check(answer.Text));
    }

    public static TheoryData<string, bool, int> Forms => new()
    {
        // content, Qwen's special tokens (false: the tags arrive in pieces), calls
        { QwenBlock, true, 1 },
        { QwenBlock, false, 1 },
        { "```json\n" + Call + "\n```", false, 1 },
        { Call, false, 1 },
        { "[" + Call + ",\n " + Call + "]", false, 2 },
        { QwenBlock + "\n" + QwenBlock, true, 2 },
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task ToolCallWrittenAsText_BecomesFunctionCallItems_NoEmptyMessage(string content, bool specialTokens, int count)
    {
        await using var proxy = await StartAsync(content, specialTokens: specialTokens);

        var (_, outcome) = await StreamAsync(proxy);

        Assert.Equal("response.completed", outcome.Final);
        Assert.Null(outcome.Text);
        Assert.Equal(count, outcome.Calls.Count);
        Assert.All(outcome.Calls, c => Assert.Equal("get_weather", c.Name));
        Assert.All(outcome.Calls, c => Assert.Equal("Zürich", JsonNode.Parse(c.Arguments)!["city"]!.GetValue<string>()));
        Assert.All(outcome.Calls, c => Assert.StartsWith("call_", c.CallId, StringComparison.Ordinal));
        Assert.Equal(count, outcome.Calls.Select(c => c.CallId).Distinct().Count());
        Assert.Equal(Key, outcome.Model);
    }

    [Fact]
    public async Task TextThenCall_TextStreamsAsAMessage_TheCallFollowsAsTheNextItem()
    {
        await using var proxy = await StartAsync("Let me check the <b>weather</b>.\n" + QwenBlock);

        var (text, outcome) = await StreamAsync(proxy);

        Assert.Equal("Let me check the <b>weather</b>.\n", outcome.Text);
        Assert.Equal(["message", "function_call"], outcome.Items);
        Assert.Equal("get_weather", Assert.Single(outcome.Calls).Name);
        // The message item is closed before the call's item is announced.
        Assert.True(text.IndexOf("event: response.output_item.done", StringComparison.Ordinal)
            < text.IndexOf("\"type\":\"function_call\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PlainTextWithTools_IsByteIdenticalToNoRepair_SequenceNumbersIncluded()
    {
        var events = LmStudioEventStreams.Responses(Key, LmStudioTokens.Split("Plain answer: the weather in Zürich is mild, 12 °C.\nNo call needed.", false), null, 12);
        await using var repaired = await StartAsync("unused");
        await using var untouched = await StartAsync("unused", repair: false);
        repaired.Upstream.Enqueue(FakeResponse.Events(events));
        untouched.Upstream.Enqueue(FakeResponse.Events(events));

        var (withRepair, outcome) = await StreamAsync(repaired);
        var (withoutRepair, _) = await StreamAsync(untouched);

        Assert.Equal(withoutRepair, withRepair);
        Assert.Equal("Plain answer: the weather in Zürich is mild, 12 °C.\nNo call needed.", outcome.Text);
    }

    public static TheoryData<string, bool> NotACall => new()
    {
        // content, repair on
        { "Use `<b>` and `<tool` tags; {\"a\": 1} is JSON.", true },
        { """{"answer": 42}""", true },
        { """<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>""", true },
        { """<tool_call>{"name": "get_weather", "arguments": {"city": </tool_call>""", true },
        { QwenBlock + " and then some text", true },
        { QwenBlock, false },
    };

    [Theory]
    [MemberData(nameof(NotACall))]
    public async Task NotARepairableCall_StreamsAsTheSameText(string content, bool repair)
    {
        await using var proxy = await StartAsync(content, repair);

        var (_, outcome) = await StreamAsync(proxy);

        Assert.Equal(content, outcome.Text);
        Assert.Empty(outcome.Calls);
        Assert.Equal(["message"], outcome.Items);
    }

    [Fact]
    public async Task CallCutOffByTheTokenLimit_StaysText_TheStreamEndsIncomplete_TheLogSaysWhy()
    {
        var directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));
        string[] tokens = ["<tool_call>", "{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Zü"];
        try
        {
            await using (var proxy = await StartAsync("unused", logDir: directory))
            {
                proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.Responses(Key, tokens, null, 12, cutOff: true)));

                var (_, outcome) = await StreamAsync(proxy);

                Assert.Equal("response.incomplete", outcome.Final);
                Assert.Equal(string.Concat(tokens), outcome.Text);
                Assert.Empty(outcome.Calls);
            }

            var log = Assert.Single(Directory.GetFiles(directory).SelectMany(File.ReadAllLines), l => l.Contains("Tool-call repair:", StringComparison.Ordinal));
            Assert.Contains("cut off by the token limit", log, StringComparison.Ordinal);
            Assert.Contains("1100", log, StringComparison.Ordinal);
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
    public async Task UpstreamBreaksWhileACallIsHeld_TheTextStillArrives_ThenResponseFailed()
    {
        await using var proxy = await StartAsync("unused");
        string[] tokens = ["Sure.", "<tool_call>", "{\"name\": \"get_weather\""];
        // created, in_progress, output_item.added, content_part.added, three deltas; then the connection drops.
        proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.Responses(Key, tokens, null, 12), dropAfter: 7));

        var answer = await SendAsync(proxy.Gateway, Post("v1/responses", Request));

        var events = EventApiRelayTests.ParseEvents(answer.Text);
        Assert.Equal(string.Concat(tokens), string.Concat(events.Where(e => e.Name == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString())));
        Assert.Equal("response.failed", events[^1].Name);
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Data.GetProperty("sequence_number").GetInt64()));
    }

    [Fact]
    public async Task Repairs_AreCountedInTheRequestLogAndTheMetrics()
    {
        var directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var proxy = await StartAsync("[" + Call + "," + Call + "]", logDir: directory))
            {
                var (_, outcome) = await StreamAsync(proxy);
                Assert.Equal(2, outcome.Calls.Count);
                var metrics = await proxy.Gateway.GetStringAsync("metrics", Ct);
                var line = Assert.Single(metrics.Split('\n'), l => l.StartsWith("copilot_proxy_tool_call_repairs_total{", StringComparison.Ordinal));
                Assert.Equal("2", line[(line.IndexOf("} ", StringComparison.Ordinal) + 2)..].Split(' ')[0]);
            }

            var log = Assert.Single(Directory.GetFiles(directory).SelectMany(File.ReadAllLines), l => l.Contains("\"Route\":\"/v1/responses\"", StringComparison.Ordinal));
            Assert.Contains("\"RepairedToolCalls\":2", log, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    public static TheoryData<string, string?, int> Recorded => new()
    {
        // content, the message text the client gets (null: no message item), repaired calls
        { "Let me check.\n" + QwenBlock, "Let me check.\n", 1 },
        { "```json\n" + Call + "\n```", null, 1 },
        { "  [" + Call + ", " + Call + "]\n", null, 2 },
        { "Use `<b>` and `<tool` tags; {\"a\": 1}.", "Use `<b>` and `<tool` tags; {\"a\": 1}.", 0 },
        { """<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>""", """<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>""", 0 },
        { QwenBlock + " trailing", QwenBlock + " trailing", 0 },
    };

    /// <summary>
    /// The same recorded stream, its text split into two deltas at every boundary between characters (a JSON string cannot
    /// carry half a UTF-8 sequence), and one character per delta: the client always gets the same items.
    /// </summary>
    [Theory]
    [MemberData(nameof(Recorded))]
    public void EverySplitPoint_GivesTheSameResult(string content, string? text, int calls)
    {
        List<string[]> splits = [[content], [.. content.Select(c => c.ToString())]];
        for (var i = 1; i < content.Length; i++)
        {
            splits.Add([content[..i], content[i..]]);
        }

        foreach (var tokens in splits)
        {
            var outcome = ResponsesOutcome.Check(Relay(LmStudioEventStreams.Responses(Key, tokens, null, 12)));

            Assert.Equal(text, outcome.Text);
            Assert.Equal(calls, outcome.Calls.Count);
            Assert.All(outcome.Calls, c => Assert.Equal("""{"city": "Zürich"}""", c.Arguments));
        }
    }

    [Fact]
    public void ReasoningItemFirst_TheCallTakesTheMessagesPlace_LaterIndexesFollow()
    {
        // A reasoning model: a reasoning item at output_index 0, the message with the call at 1.
        var events = LmStudioEventStreams.Responses(Key, LmStudioTokens.Split(QwenBlock), null, 12).Select(e => JsonNode.Parse(e.Data)!.AsObject()).ToList();
        var reasoning = new JsonObject { ["id"] = "rs_1", ["type"] = "reasoning", ["summary"] = new JsonArray(), ["content"] = new JsonArray(new JsonObject { ["type"] = "reasoning_text", ["text"] = "Weather tool." }) };
        foreach (var e in events.Where(e => e["output_index"] is not null))
        {
            e["output_index"] = 1;
        }

        events.InsertRange(2, [
            new JsonObject { ["type"] = "response.output_item.added", ["output_index"] = 0, ["item"] = reasoning.DeepClone() },
            new JsonObject { ["type"] = "response.reasoning_text.delta", ["item_id"] = "rs_1", ["output_index"] = 0, ["content_index"] = 0, ["delta"] = "Weather tool." },
            new JsonObject { ["type"] = "response.output_item.done", ["output_index"] = 0, ["item"] = reasoning.DeepClone() },
        ]);
        events[^1]["response"]!["output"]!.AsArray().Insert(0, reasoning.DeepClone());
        for (var i = 0; i < events.Count; i++)
        {
            events[i]["sequence_number"] = i;
        }

        var outcome = ResponsesOutcome.Check(Relay(events.Select(e => new NamedEvent(e["type"]!.GetValue<string>(), e.ToJsonString()))));

        Assert.Equal(["reasoning", "function_call"], outcome.Items);
        Assert.Equal("get_weather", Assert.Single(outcome.Calls).Name);
    }

    /// <summary>Fields of the wrong JSON type where the repair looks (ids, indexes, items, text): relayed, never a crash.</summary>
    [Theory]
    [InlineData("response.completed")]
    [InlineData("response.incomplete")]
    public void OddlyTypedFields_AreRelayed_NeverThrow(string final)
    {
        string[] events =
        [
            """{"type":"response.created","sequence_number":"zero","response":{"id":1,"model":5,"status":3,"output":{}}}""",
            """{"type":"response.output_item.added","sequence_number":1,"output_index":"0","item":"msg"}""",
            """{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"type":"message","id":7}}""",
            """{"type":"response.content_part.added","sequence_number":3,"output_index":0,"content_index":"0","part":[]}""",
            """{"type":"response.content_part.added","sequence_number":4,"output_index":0,"content_index":0,"part":[]}""",
            """{"type":"response.output_text.delta","sequence_number":5,"output_index":0,"content_index":0,"delta":5}""",
            """{"type":"response.output_text.delta","sequence_number":6,"output_index":0,"content_index":0,"delta":"Sure. <tool_call>{\"name\":\"get_weather\",\"arguments\":{}}</tool_call>"}""",
            """{"type":"response.output_text.done","sequence_number":7,"output_index":0,"content_index":0,"text":null}""",
            """{"type":"response.content_part.done","sequence_number":8,"output_index":0,"content_index":0,"part":"x"}""",
            """{"type":"response.output_item.done","sequence_number":9,"output_index":0,"item":{"content":"x","text":1}}""",
            """{"type":"response.output_item.added","sequence_number":10,"output_index":"1","item":{"type":"reasoning"}}""",
            """{"type":"response.output_item.added","sequence_number":11,"output_index":[],"item":{"type":"function_call"}}""",
            """{"type":"FINAL","sequence_number":1.5,"response":{"status":7,"model":[],"output":[3,{"id":7},{"type":"message"},"x"]}}""".Replace("FINAL", final, StringComparison.Ordinal),
        ];
        var output = new ArrayBufferWriter<byte>();
        using var repair = new ToolCallRepair(["get_weather"], Key, NullLogger.Instance);
        var relay = new EventStreamRelay(output, EventApi.Responses, Key, repair);

        foreach (var e in events)
        {
            relay.OnEvent(Encoding.UTF8.GetBytes(e));
        }

        Assert.True(relay.Finished);
        var written = EventApiRelayTests.ParseEvents(Encoding.UTF8.GetString(output.WrittenSpan));
        Assert.Equal(final, written[^1].Name);
        Assert.Equal(1, relay.RepairedToolCalls);
    }

    /// <summary>Runs the relay itself over a recorded upstream stream, as the gateway does per upstream event.</summary>
    private static string Relay(IEnumerable<NamedEvent> events)
    {
        var output = new ArrayBufferWriter<byte>();
        using var repair = new ToolCallRepair(["get_weather"], Key, NullLogger.Instance);
        var relay = new EventStreamRelay(output, EventApi.Responses, Key, repair);
        foreach (var e in events)
        {
            if (!relay.OnEvent(Encoding.UTF8.GetBytes(e.Data)))
            {
                break;
            }
        }

        Assert.True(relay.Finished);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }
}
