using System.Text.Json;
using CopilotProxy.Tests.Harness;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>
/// Tool calls a local model wrote as text reach Responses and Anthropic Messages clients as their API's own calls
/// (<c>function_call</c> output items, <c>tool_use</c> blocks), and text that is not a call reaches them unchanged.
/// </summary>
public sealed class EventApiToolCallRepairTests
{
    private const string Call = """{"name": "get_weather", "arguments": {"city": "Zürich"}}""";
    private const string QwenBlock = "<tool_call>\n" + Call + "\n</tool_call>";

    private static string Request(string api, bool stream = false) => (api == "responses"
        ? """{"model":"KEY","input":"Weather in Zürich?","stream":STREAM,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}"""
        : """{"model":"KEY","max_tokens":256,"stream":STREAM,"messages":[{"role":"user","content":"Weather in Zürich?"}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}""")
        .Replace("KEY", Key, StringComparison.Ordinal).Replace("STREAM", stream ? "true" : "false", StringComparison.Ordinal);

    private static async Task<ProxyFixture> StartAsync(string reply, bool repair = true, string? logDir = null)
    {
        var proxy = await ProxyFixture.StartAsync(configure: s => logDir is null ? s with { ToolCallRepair = repair } : s with { ToolCallRepair = repair, LogDir = logDir, LogLevel = LogLevel.Information });
        proxy.Upstream.DefaultReply = reply;
        proxy.Upstream.ReplyTokenizer = text => LmStudioTokens.Split(text, specialTokens: false);
        return proxy;
    }

    public static TheoryData<string, string> Forms => new()
    {
        { "responses", QwenBlock },
        { "messages", QwenBlock },
        { "responses", "```json\n" + Call + "\n```" },
        { "messages", Call },
        { "responses", "[" + Call + "]" },
        { "messages", """{"name":"get_weather","parameters":"{\"city\":\"Zürich\"}"}""" },
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task NonStreaming_ToolCallWrittenAsText_BecomesTheApisOwnCall(string api, string content)
    {
        await using var proxy = await StartAsync(content);

        var answer = await SendAsync(proxy.Gateway, Post("v1/" + api, Request(api)));

        Assert.Equal(200, answer.Status);
        if (api == "responses")
        {
            var item = Assert.Single(answer.Body.GetProperty("output").EnumerateArray());
            Assert.Equal("function_call", item.GetProperty("type").GetString());
            Assert.Equal("get_weather", item.GetProperty("name").GetString());
            Assert.Equal("completed", item.GetProperty("status").GetString());
            Assert.StartsWith("fc_", item.GetProperty("id").GetString(), StringComparison.Ordinal);
            Assert.StartsWith("call_", item.GetProperty("call_id").GetString(), StringComparison.Ordinal);
            using var arguments = JsonDocument.Parse(item.GetProperty("arguments").GetString()!);
            Assert.Equal("Zürich", arguments.RootElement.GetProperty("city").GetString());
        }
        else
        {
            var block = Assert.Single(answer.Body.GetProperty("content").EnumerateArray());
            Assert.Equal("tool_use", block.GetProperty("type").GetString());
            Assert.Equal("get_weather", block.GetProperty("name").GetString());
            Assert.StartsWith("toolu_", block.GetProperty("id").GetString(), StringComparison.Ordinal);
            Assert.Equal("Zürich", block.GetProperty("input").GetProperty("city").GetString());
            Assert.Equal("tool_use", answer.Body.GetProperty("stop_reason").GetString());
        }

        Assert.Equal(Key, answer.Body.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("responses")]
    [InlineData("messages")]
    public async Task NonStreaming_TextBeforeTheBlock_StaysText_TheCallFollows(string api)
    {
        await using var proxy = await StartAsync("Let me check.\n" + QwenBlock);

        var answer = await SendAsync(proxy.Gateway, Post("v1/" + api, Request(api)));

        if (api == "responses")
        {
            var output = answer.Body.GetProperty("output").EnumerateArray().ToArray();
            Assert.Equal(2, output.Length);
            Assert.Equal("message", output[0].GetProperty("type").GetString());
            Assert.Equal("Let me check.\n", output[0].GetProperty("content")[0].GetProperty("text").GetString());
            Assert.Equal("function_call", output[1].GetProperty("type").GetString());
        }
        else
        {
            var content = answer.Body.GetProperty("content").EnumerateArray().ToArray();
            Assert.Equal(2, content.Length);
            Assert.Equal("Let me check.\n", content[0].GetProperty("text").GetString());
            Assert.Equal("tool_use", content[1].GetProperty("type").GetString());
        }
    }

    public static TheoryData<string, string, bool> Declined => new()
    {
        // api, content, repair on
        { "responses", """<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>""", true },
        { "messages", """<tool_call>{"name": "get_weather", "arguments": {"city": </tool_call>""", true },
        { "messages", """{"name": "not offered", "arguments": {}}""", true },
        { "responses", "Use `<b>` for bold; {\"a\": 1} is JSON.", true },
        { "responses", QwenBlock, false },
        { "messages", QwenBlock, false },
    };

    [Theory]
    [MemberData(nameof(Declined))]
    public async Task NonStreaming_NotARepairableCall_PassesThroughUnchanged(string api, string content, bool repair)
    {
        await using var proxy = await StartAsync(content, repair);

        var answer = await SendAsync(proxy.Gateway, Post("v1/" + api, Request(api)));

        Assert.Equal(200, answer.Status);
        if (api == "responses")
        {
            var item = Assert.Single(answer.Body.GetProperty("output").EnumerateArray());
            Assert.Equal(content, item.GetProperty("content")[0].GetProperty("text").GetString());
        }
        else
        {
            var block = Assert.Single(answer.Body.GetProperty("content").EnumerateArray());
            Assert.Equal(content, block.GetProperty("text").GetString());
            Assert.Equal("end_turn", answer.Body.GetProperty("stop_reason").GetString());
        }
    }

    [Theory]
    [InlineData("responses")]
    [InlineData("messages")]
    public async Task NonStreaming_CutOffByTheTokenLimit_StaysText(string api)
    {
        const string cut = """<tool_call>{"name": "get_weather", "arguments": {"city": "Zü""";
        await using var proxy = await StartAsync(cut);
        proxy.Upstream.Enqueue(FakeResponse.Json(200, api == "responses"
            ? LmStudioEventStreams.ResponsesJson(Key, cut).Replace("\"status\":\"completed\",\"model\"", "\"status\":\"incomplete\",\"model\"", StringComparison.Ordinal)
            : LmStudioEventStreams.MessagesJson(Key, cut).Replace("end_turn", "max_tokens", StringComparison.Ordinal)));

        var answer = await SendAsync(proxy.Gateway, Post("v1/" + api, Request(api)));

        var text = api == "responses"
            ? Assert.Single(answer.Body.GetProperty("output").EnumerateArray()).GetProperty("content")[0].GetProperty("text").GetString()
            : Assert.Single(answer.Body.GetProperty("content").EnumerateArray()).GetProperty("text").GetString();
        Assert.Equal(cut, text);
    }

    [Fact]
    public async Task NonStreaming_RepairsAreCountedInTheRequestLog()
    {
        var directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var proxy = await StartAsync("[" + Call + "," + Call + "]", logDir: directory))
            {
                var answer = await SendAsync(proxy.Gateway, Post("v1/messages", Request("messages")));
                Assert.Equal(2, answer.Body.GetProperty("content").GetArrayLength());
            }

            var line = Assert.Single(Directory.GetFiles(directory).SelectMany(File.ReadAllLines), l => l.Contains("\"Route\":\"/v1/messages\"", StringComparison.Ordinal));
            Assert.Contains("\"RepairedToolCalls\":2", line, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    public static TheoryData<string, bool> StreamedForms => new()
    {
        // content, Qwen's special tokens (false: the tags arrive in pieces)
        { QwenBlock, true },
        { QwenBlock, false },
        { "```json\n" + Call + "\n```", false },
        { Call, false },
        { "[" + Call + "]", false },
    };

    private static async Task<List<(string Name, JsonElement Data)>> StreamMessagesAsync(ProxyFixture proxy)
    {
        var answer = await SendAsync(proxy.Gateway, Post("v1/messages", Request("messages", stream: true)));
        Assert.Equal(200, answer.Status);
        var events = EventApiRelayTests.ParseEvents(answer.Text);
        Assert.All(events, e => Assert.Equal(e.Name, e.Data.GetProperty("type").GetString()));
        Assert.Equal("message_stop", events[^1].Name);
        return events;
    }

    private static string StreamedText(List<(string Name, JsonElement Data)> events) => string.Concat(events
        .Where(e => e.Name == "content_block_delta" && e.Data.GetProperty("delta").GetProperty("type").GetString() == "text_delta")
        .Select(e => e.Data.GetProperty("delta").GetProperty("text").GetString()));

    private static string StopReason(List<(string Name, JsonElement Data)> events) =>
        events.Single(e => e.Name == "message_delta").Data.GetProperty("delta").GetProperty("stop_reason").GetString()!;

    [Theory]
    [MemberData(nameof(StreamedForms))]
    public async Task MessagesStream_ToolCallWrittenAsText_BecomesAToolUseBlock(string content, bool specialTokens)
    {
        await using var proxy = await StartAsync(content);
        proxy.Upstream.ReplyTokenizer = text => LmStudioTokens.Split(text, specialTokens);

        var events = await StreamMessagesAsync(proxy);

        Assert.Equal("", StreamedText(events));
        var starts = events.Where(e => e.Name == "content_block_start").ToArray();
        var start = Assert.Single(starts).Data;
        Assert.Equal(0, start.GetProperty("index").GetInt32());
        var block = start.GetProperty("content_block");
        Assert.Equal("tool_use", block.GetProperty("type").GetString());
        Assert.Equal("get_weather", block.GetProperty("name").GetString());
        Assert.StartsWith("toolu_", block.GetProperty("id").GetString(), StringComparison.Ordinal);
        var json = string.Concat(events.Where(e => e.Name == "content_block_delta").Select(e => e.Data.GetProperty("delta").GetProperty("partial_json").GetString()));
        using var input = JsonDocument.Parse(json);
        Assert.Equal("Zürich", input.RootElement.GetProperty("city").GetString());
        Assert.Single(events, e => e.Name == "content_block_stop" && e.Data.GetProperty("index").GetInt32() == 0);
        Assert.Equal("tool_use", StopReason(events));
    }

    [Fact]
    public async Task MessagesStream_TextBeforeTheBlock_StreamsAsText_TheToolUseBlockFollows()
    {
        await using var proxy = await StartAsync("Let me check the <b>weather</b>.\n" + QwenBlock);

        var events = await StreamMessagesAsync(proxy);

        Assert.Equal("Let me check the <b>weather</b>.\n", StreamedText(events));
        var starts = events.Where(e => e.Name == "content_block_start").Select(e => e.Data).ToArray();
        Assert.Equal(2, starts.Length);
        Assert.Equal(("text", 0), (starts[0].GetProperty("content_block").GetProperty("type").GetString(), starts[0].GetProperty("index").GetInt32()));
        Assert.Equal(("tool_use", 1), (starts[1].GetProperty("content_block").GetProperty("type").GetString(), starts[1].GetProperty("index").GetInt32()));
        // The text block ends before the tool_use block starts, as Anthropic's SDKs expect.
        var textStop = events.FindIndex(e => e.Name == "content_block_stop" && e.Data.GetProperty("index").GetInt32() == 0);
        var toolStart = events.FindIndex(e => e.Name == "content_block_start" && e.Data.GetProperty("index").GetInt32() == 1);
        Assert.InRange(textStop, 0, toolStart);
        Assert.Equal("tool_use", StopReason(events));
    }

    public static TheoryData<string, bool> StreamedDeclined => new()
    {
        { "Plain text answer, no call.", true },
        { "Use `<b>` and `<tool` tags; {\"a\": 1} is JSON.", true },
        { """{"answer": 42}""", true },
        { """<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>""", true },
        { QwenBlock, false },
    };

    [Theory]
    [MemberData(nameof(StreamedDeclined))]
    public async Task MessagesStream_NotARepairableCall_StreamsUnchanged(string content, bool repair)
    {
        await using var proxy = await StartAsync(content, repair);

        var events = await StreamMessagesAsync(proxy);

        Assert.Equal(content, StreamedText(events));
        Assert.Single(events, e => e.Name == "content_block_start");
        Assert.Single(events, e => e.Name == "content_block_stop");
        Assert.Equal("end_turn", StopReason(events));
    }

    [Fact]
    public async Task MessagesStream_CallCutOffByTheTokenLimit_StaysText()
    {
        await using var proxy = await StartAsync("unused");
        string[] tokens = ["<tool_call>", "{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Zü", "</tool_call>"];
        var events = LmStudioEventStreams.MessagesText(Key, tokens)
            .Select(e => e.Name == "message_delta" ? e with { Data = e.Data.Replace("end_turn", "max_tokens", StringComparison.Ordinal) } : e);
        proxy.Upstream.Enqueue(FakeResponse.Events(events));

        var streamed = await StreamMessagesAsync(proxy);

        Assert.Equal(string.Concat(tokens), StreamedText(streamed));
        Assert.DoesNotContain(streamed, e => e.Name == "content_block_start" && e.Data.GetProperty("content_block").GetProperty("type").GetString() == "tool_use");
        Assert.Equal("max_tokens", StopReason(streamed));
    }

    [Fact]
    public async Task MessagesStream_UpstreamBreaksWhileACallIsHeld_TheTextStillArrives_ThenTheError()
    {
        await using var proxy = await StartAsync("unused");
        string[] tokens = ["Sure.", "<tool_call>", "{\"name\": \"get_weather\""];
        // message_start, content_block_start, three deltas; then the connection drops.
        proxy.Upstream.Enqueue(FakeResponse.Events(LmStudioEventStreams.MessagesText(Key, tokens), dropAfter: 5));

        var answer = await SendAsync(proxy.Gateway, Post("v1/messages", Request("messages", stream: true)));

        var events = EventApiRelayTests.ParseEvents(answer.Text);
        Assert.Equal(string.Concat(tokens), StreamedText(events));
        Assert.Equal("error", events[^1].Name);
    }
}
