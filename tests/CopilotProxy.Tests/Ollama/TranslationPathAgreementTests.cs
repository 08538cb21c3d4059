using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using CopilotProxy.Ollama;
using CopilotProxy.OpenAI;
using CopilotProxy.Tests.Harness;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Tests.Ollama;

/// <summary>
/// The translation's fast path (the line written from the text's JSON string, no document) and its document path must
/// give the client the same lines for every stream; otherwise what an Ollama client sees would depend on which path an
/// event happened to take. Only the clock differs between two runs: created_at and the durations are normalised.
/// </summary>
public sealed partial class TranslationPathAgreementTests
{
    private const string ClientModel = "qwen3:8b";
    private static readonly OfferedTool[] Tools = ["read_file", "get_weather"];

    [Theory]
    [MemberData(nameof(Transcripts.SseFiles), MemberType = typeof(Transcripts))]
    public void CapturedTranscript_FastAndDocumentPathsWriteTheSameLines(string file)
    {
        var events = Transcripts.DataEvents(file);
        Assert.NotEmpty(events);

        AssertSameLines(events);
    }

    public static TheoryData<string> SyntheticStreams() =>
    [
        "text",
        "escapes",
        "long-escaped",
        "reasoning",
        "reasoning-field",
        "reasoning-mixed",
        "spaced-layout",
        "tool-calls",
        "text-and-tool-call",
        "usage-on-finish",
        "think-tags",
        "tool-call-as-text",
        "bare-json-call",
        "length",
        "n2",
        "odd-index",
        "duplicate-content",
        "timings",
        "completions-text",
        "error",
    ];

    [Theory]
    [MemberData(nameof(SyntheticStreams))]
    public void SyntheticStream_FastAndDocumentPathsWriteTheSameLines(string name)
    {
        var events = Stream(name);

        AssertSameLines(events);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(10L)]
    [InlineData(1_000_000L)]
    [InlineData(1_230_000L)]
    [InlineData(9_999_999L)]
    [InlineData(5_000_100L)]
    public void Timestamp_IsWrittenAsTheJsonWriterWritesIt(long ticksIntoTheSecond)
    {
        // The fast path writes created_at itself; the lines of both paths must carry the same format.
        var second = new DateTime(2026, 12, 1, 3, 33, 41, DateTimeKind.Utc).Ticks;
        foreach (var kind in new[] { DateTimeKind.Utc, DateTimeKind.Unspecified, DateTimeKind.Local })
        {
            var value = new DateTime(second + ticksIntoTheSecond, kind);
            var expected = new ArrayBufferWriter<byte>();
            using (var json = new System.Text.Json.Utf8JsonWriter(expected))
            {
                json.WriteStringValue(value);
            }

            var written = new byte[NdjsonWriter.MaxTimestampLength];
            var length = NdjsonWriter.WriteTimestamp(value, written);

            Assert.Equal(Encoding.UTF8.GetString(expected.WrittenSpan).Trim('"'), Encoding.UTF8.GetString(written, 0, length));
        }
    }

    [Fact]
    public void InvalidUtf8InText_BothPathsAnswerAlike()
    {
        // Bytes a string can't carry (a lone 0xFF, a cut-off sequence, an encoded surrogate) reach both paths' writers as is.
        foreach (var bad in new byte[][] { [0xFF], [0xE2, 0x82], [0xED, 0xA0, 0x80] })
        {
            var data = Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"a""").Concat(bad).Concat(Encoding.UTF8.GetBytes(""" b"}}]}""")).ToArray();
            Assert.Equal(Outcome(data, documentOnly: true), Outcome(data, documentOnly: false));
        }

        static string Outcome(byte[] data, bool documentOnly)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using var translator = new ChunkTranslator(buffer, ClientModel, OllamaAnswerShape.Chat, stream: true, showThinking: true, Stopwatch.GetTimestamp())
            { DocumentPathOnly = documentOnly };
            try
            {
                var flush = translator.HandleEvent(data);
                return $"{flush} {translator.UnreadableEvent} {Normalise(buffer)}";
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                return e.GetType().Name;
            }
        }
    }

    [Fact]
    public void TextAndReasoningEvents_TakeTheFastPath_AndAllocateNothing()
    {
        // Proves the fast path is taken at all (otherwise the agreement tests compare the document path with itself):
        // the document path allocates its JsonDocument on every event.
        var warmUp = new LmStudioSse("qwen/qwen3-8b").Content("warm", "up").Payloads.Take(2).Select(Encoding.UTF8.GetBytes).ToArray();
        var text = Encoding.UTF8.GetBytes(new LmStudioSse("qwen/qwen3-8b").Content(" caf\u00e9 \"quoted\"\n").Payloads[0]);
        var reasoning = Encoding.UTF8.GetBytes(new LmStudioSse("qwen/qwen3-8b").Reasoning("reasoning_content", "Let me think").Payloads[0]);

        Assert.Equal(0, AllocatedPerEvent(warmUp, text, documentOnly: false, repair: false));
        Assert.Equal(0, AllocatedPerEvent(warmUp, text, documentOnly: false, repair: true));
        Assert.Equal(0, AllocatedPerEvent(warmUp, reasoning, documentOnly: false, repair: true));
        Assert.True(AllocatedPerEvent(warmUp, text, documentOnly: true, repair: false) > 0);
    }

    private static long AllocatedPerEvent(byte[][] warmUp, byte[] plain, bool documentOnly, bool repair)
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        using var translator = new ChunkTranslator(buffer, ClientModel, OllamaAnswerShape.Chat, stream: true, showThinking: true, Stopwatch.GetTimestamp(),
            repair ? new ToolCallRepair(Tools, ClientModel, NullLogger.Instance) : null)
        { DocumentPathOnly = documentOnly };
        foreach (var data in warmUp)
        {
            translator.HandleEvent(data);
        }

        for (var i = 0; i < 10; i++)
        {
            translator.HandleEvent(plain);
            buffer.ResetWrittenCount();
        }

        const int Events = 100;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Events; i++)
        {
            Assert.True(translator.HandleEvent(plain));
            buffer.ResetWrittenCount();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / Events;
    }

    private static List<string> Stream(string name) => name switch
    {
        "text" => [.. LmStudioStreams.Text("qwen/qwen3-8b", "Hello", ",", " world", "!").Usage(12, 4)],
        // Raw payloads: the escapes as an upstream may write them (\u00e9 for é, \/ for /, an escaped emoji pair, a
        // control character, upper-case hex), none of which the writer's encoder writes the same way.
        "escapes" => [.. new LmStudioSse("qwen/qwen3-8b")
            .Content("line\n", "\"quoted\"", "tab\there", "back\\slash", "caf\u00e9 \u4e16\u754c", "\ud83d\ude00 raw emoji", "<b>&amp;</b>", "\u2028sep")
            .Delta("\"content\":\"caf\\u00e9\"")
            .Delta("\"content\":\"a\\/b\"")
            .Delta("\"content\":\"\\ud83d\\ude00 escaped emoji\"")
            .Delta("\"content\":\"bell\\u0007 unit\\u001F\"")
            .Delta("\"content\":\"\\u0041\\u00E9\\u20ac\"")
            .Delta("\"content\":\"\\b\\f\\r\"")
            .Finish()],
        "long-escaped" => [.. new LmStudioSse("qwen/qwen3-8b")
            .Delta("\"content\":\"" + string.Concat(Enumerable.Repeat("caf\\u00e9 \\\"x\\\"\\n", 60)) + "\"")
            .Content(new string('x', 5000))
            .Finish()],
        "reasoning" => [.. LmStudioStreams.Reasoning("qwen/qwen3-8b", ["Let", " me", " think"], ["The", " answer"]).Usage(5, 5)],
        "reasoning-field" => [.. LmStudioStreams.Reasoning("openai/gpt-oss-20b", ["hmm"], ["ok"], field: "reasoning")],
        // Both reasoning fields, one of them empty or null; reasoning and text in one delta; escapes; a repeated field.
        "reasoning-mixed" => [.. new LmStudioSse("m")
            .Delta("\"reasoning_content\":\"rc\",\"reasoning\":\"r\"")
            .Delta("\"reasoning_content\":\"\",\"reasoning\":\"only r\"")
            .Delta("\"reasoning_content\":null,\"reasoning\":\"r after null\"")
            .Delta("\"reasoning\":\"\\\"quoted\\\" caf\\u00e9\\n\",\"content\":\"and text\"")
            .Delta("\"reasoning_content\":\"one\",\"reasoning_content\":\"two\"")
            .Delta("\"content\":\"<tool_call>{\\\"name\\\":\\\"read_file\\\",\\\"arguments\\\":{}}\",\"reasoning_content\":\"while calling\"")
            .Delta("\"content\":\"</tool_call>\"")
            .Finish()],
        // Whitespace between tokens (pretty-printed events).
        "spaced-layout" => [.. new LmStudioSse("m").Content("a")
            .Raw("{ \"id\": \"x\", \"choices\": [ { \"index\": 0, \"delta\": { \"content\": \"spaced \\\"text\\\"\" } } ] }")
            .Raw("{\n  \"choices\": [\n    {\"delta\": {\"reasoning_content\": \"spaced thought\"}}\n  ]\n}")
            .Finish()],
        "tool-calls" => [.. LmStudioStreams.ToolCalls("qwen/qwen3-8b", new FakeToolCall("get_weather", """{"city":"Paris"}"""))],
        "text-and-tool-call" => [.. new LmStudioSse("qwen/qwen3-8b").Content("Let me check.", " One moment.")
            .ToolCalls(new FakeToolCall("read_file", """{"path":"a.txt"}""")).Content("after").Finish("tool_calls")],
        "usage-on-finish" => [.. new LmStudioSse("qwen/qwen3-8b").Content("a", "b")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"c"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}""")],
        "think-tags" => [.. LmStudioStreams.Text("qwen/qwen3-8b", "<think>", "Plan", " it", "</think>", "\n\n", "Done <tag>")],
        "tool-call-as-text" => [.. LmStudioStreams.Text("qwen/qwen3-8b", "Sure.", " <tool", "_call>", "{\"name\":\"read_file\",", "\"arguments\":{\"path\":\"a\"}}", "</tool_call>")],
        "bare-json-call" => [.. LmStudioStreams.Text("qwen/qwen3-8b", "{\"name\":", "\"get_weather\",", "\"arguments\":{\"city\":\"Oslo\"}}")],
        "length" => [.. new LmStudioSse("qwen/qwen3-8b").Content("cut", " short", " <tool_call>{\"na").Finish("length")],
        "n2" => [.. new LmStudioSse("m").Content("a")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":1,"delta":{"content":"second"}},{"index":0,"delta":{"content":"first"}}]}""")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"first"}},{"index":1,"delta":{"content":"second"}}]}""")
            .Finish()],
        "odd-index" => [.. new LmStudioSse("m").Content("a")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":1,"delta":{"content":"other answer"}}]}""")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":"0","delta":{"content":"string index"}}]}""")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"delta":{"content":"no index"}}]}""")
            .Finish()],
        "duplicate-content" => [.. new LmStudioSse("m").Content("a")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"first","content":null}}]}""")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"one"},"delta":{"content":"two"}}]}""")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"index":1,"delta":{"content":"x"}}]}""")
            .Finish()],
        "timings" => [.. new LmStudioSse("m").Content("a")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"b"}}],"timings":{"prompt_n":7,"prompt_ms":12.5,"predicted_ms":40.25}}""")
            .Finish()],
        "completions-text" => [.. new LmStudioSse("m")
            .Raw("""{"id":"x","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"raw text"}]}""")
            .Raw("""{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":""},"text":"from text"}]}""")
            .Finish()],
        "error" => [.. new LmStudioSse("m").Content("partial").Raw(LmStudioStreams.Error("model crashed")).WithoutDone()],
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static void AssertSameLines(IReadOnlyList<string> events)
    {
        foreach (var shape in new[] { OllamaAnswerShape.Chat, OllamaAnswerShape.Generate })
        {
            foreach (var repair in new[] { false, true })
            {
                foreach (var showThinking in new[] { true, false })
                {
                    var fast = Translate(events, shape, repair, showThinking, documentOnly: false);
                    var document = Translate(events, shape, repair, showThinking, documentOnly: true);
                    Assert.Equal(document.Count, fast.Count);
                    for (var i = 0; i < fast.Count; i++)
                    {
                        Assert.Equal(document[i], fast[i]);
                    }
                }
            }
        }
    }

    /// <summary>What the client gets for each upstream event (and the final line), plus what the translator reports after it.</summary>
    private static List<string> Translate(IReadOnlyList<string> events, OllamaAnswerShape shape, bool repair, bool showThinking, bool documentOnly)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using var translator = new ChunkTranslator(buffer, ClientModel, shape, stream: true, showThinking, Stopwatch.GetTimestamp(),
            repair ? new ToolCallRepair(Tools, ClientModel, NullLogger.Instance) : null)
        { DocumentPathOnly = documentOnly };
        translator.MarkUpstreamSent(Stopwatch.GetTimestamp());
        var written = new List<string>();
        foreach (var data in events)
        {
            var flush = translator.HandleEvent(Encoding.UTF8.GetBytes(data));
            written.Add($"{flush} {State(translator)} {Normalise(buffer)}");
            buffer.ResetWrittenCount();
            if (translator.SawDone || translator.UpstreamError is not null || translator.UnreadableEvent is not null)
            {
                break;
            }
        }

        translator.WriteDone();
        written.Add($"done {State(translator)} {Normalise(buffer)}");
        return written;
    }

    private static string State(ChunkTranslator translator) =>
        $"{translator.Finished} {translator.Outcome} {translator.ToolCallCount} {translator.RepairedToolCalls} {translator.UpstreamError}";

    /// <summary>The clock (created_at, durations) and the ids the repair makes up for the calls it repairs differ between two runs.</summary>
    private static string Normalise(ArrayBufferWriter<byte> buffer)
    {
        var text = CreatedAt().Replace(Encoding.UTF8.GetString(buffer.WrittenSpan), "\"created_at\":\"T\"");
        text = Durations().Replace(text, "\"$1_duration\":0");
        return RepairedCallId().Replace(text, "\"id\":\"call_\"");
    }

    [GeneratedRegex("\"created_at\":\"[^\"]*\"")]
    private static partial Regex CreatedAt();

    [GeneratedRegex("\"(total|load|prompt_eval|eval)_duration\":[0-9]+")]
    private static partial Regex Durations();

    [GeneratedRegex("\"id\":\"call_[0-9a-f]+\"")]
    private static partial Regex RepairedCallId();
}
