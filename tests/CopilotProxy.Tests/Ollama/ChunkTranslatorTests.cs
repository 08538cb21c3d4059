using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using CopilotProxy.Ollama;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Ollama;

/// <summary>OpenAI chunks (LM Studio-shaped, from the harness builders or a real llama-server transcript) → Ollama lines.</summary>
public class ChunkTranslatorTests
{
    private const string Model = "qwen3:latest";

    private sealed record Translation(List<JsonObject> Lines, ChunkTranslator Translator, List<int> FlushPoints);

    private static Translation Run(IEnumerable<string> payloads, bool stream = true, OllamaAnswerShape shape = OllamaAnswerShape.Chat, bool showThinking = true, bool writeDone = true)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var translator = new ChunkTranslator(buffer, Model, shape, stream, showThinking, Stopwatch.GetTimestamp());
        translator.MarkUpstreamSent(Stopwatch.GetTimestamp());
        var flushes = new List<int>();
        foreach (var payload in payloads)
        {
            if (translator.HandleEvent(Encoding.UTF8.GetBytes(payload)))
            {
                flushes.Add(buffer.WrittenCount);
            }
        }

        if (writeDone && translator.UpstreamError is null)
        {
            translator.WriteDone();
        }

        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        return new Translation(lines, translator, flushes);
    }

    [Fact]
    public void TextDeltas_GoOutAtOnceOneLineEach()
    {
        var result = Run(LmStudioStreams.Text("up", "Hel", "lo", "!").Usage(12, 3));

        Assert.Equal(4, result.Lines.Count);
        Assert.Equal(["Hel", "lo", "!"], result.Lines.Take(3).Select(l => (string?)l["message"]!["content"]));
        Assert.All(result.Lines.Take(3), l =>
        {
            Assert.Equal(Model, (string?)l["model"]);
            Assert.Equal("assistant", (string?)l["message"]!["role"]);
            Assert.False((bool?)l["done"]);
            Assert.True(DateTime.TryParse((string?)l["created_at"], out _));
        });
        // Every delta is its own flush: nothing waits for the next token.
        Assert.Equal(3, result.FlushPoints.Count);
    }

    [Fact]
    public void FinalLine_CarriesDoneReasonCountsAndDurations()
    {
        var done = Run(LmStudioStreams.Text("up", "a", "b").Usage(26, 2)).Lines[^1];

        Assert.True((bool?)done["done"]);
        Assert.Equal("stop", (string?)done["done_reason"]);
        Assert.Equal("", (string?)done["message"]!["content"]);
        Assert.Equal(26, (int?)done["prompt_eval_count"]);
        Assert.Equal(2, (int?)done["eval_count"]);
        var total = (long)done["total_duration"]!;
        Assert.True(total > 0);
        Assert.True((long)done["prompt_eval_duration"]! <= total);
        // No explicit load happened, and time to headers isn't load time: Ollama omits unknown metrics.
        Assert.False(done.ContainsKey("load_duration"));
    }

    [Fact]
    public void FinishLength_BecomesDoneReasonLength()
    {
        var done = Run(new LmStudioSse("up").Content("cut").Finish("length")).Lines[^1];

        Assert.Equal("length", (string?)done["done_reason"]);
    }

    [Fact]
    public void ReasoningContentAndReasoning_BothGoToThinking()
    {
        var r1 = Run(LmStudioStreams.Reasoning("up", ["hmm"], ["4"], "reasoning_content")).Lines;
        var gptOss = Run(LmStudioStreams.Reasoning("up", ["so"], ["5"], "reasoning")).Lines;

        Assert.Equal("""{"role":"assistant","content":"","thinking":"hmm"}""", r1[0]["message"]!.ToJsonString());
        Assert.Equal("4", (string?)r1[1]["message"]!["content"]);
        Assert.Equal("so", (string?)gptOss[0]["message"]!["thinking"]);
    }

    [Fact]
    public void ThinkFalse_DropsReasoning()
    {
        var lines = Run(LmStudioStreams.Reasoning("up", ["secret"], ["answer"]), showThinking: false).Lines;

        Assert.Equal(2, lines.Count);
        Assert.DoesNotContain(lines, l => l["message"]!.AsObject().ContainsKey("thinking"));
    }

    [Fact]
    public void ToolCallSplitAcrossChunks_ArrivesAsOneOllamaToolCall()
    {
        var sse = new LmStudioSse("up").ToolCalls(new FakeToolCall("get_weather", """{"city":"Tokyo","unit":"celsius"}""") { Id = "814890118", PieceLength = 3 }).Finish("tool_calls").Usage(50, 20);

        var lines = Run(sse).Lines;

        Assert.Equal(2, lines.Count);
        Assert.Equal("""[{"id":"814890118","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo","unit":"celsius"}}}]""",
            lines[0]["message"]!["tool_calls"]!.ToJsonString());
        Assert.False((bool?)lines[0]["done"]);
        Assert.Equal("stop", (string?)lines[1]["done_reason"]);
    }

    [Fact]
    public void ArgumentsStringBecomesObject()
    {
        var lines = Run(new LmStudioSse("up").ToolCalls(new FakeToolCall("add", """{"a":1,"b":[2,3],"c":{"d":null}}""")).Finish("tool_calls")).Lines;

        var arguments = lines[0]["message"]!["tool_calls"]![0]!["function"]!["arguments"]!;
        Assert.IsType<JsonObject>(arguments);
        Assert.Equal("""{"a":1,"b":[2,3],"c":{"d":null}}""", arguments.ToJsonString());
    }

    [Fact]
    public void ParallelInterleavedToolCalls_ArriveWholeInIndexOrder()
    {
        var sse = new LmStudioSse("up").ToolCalls(new ToolCallStreamOptions { Interleave = true },
            new FakeToolCall("get_weather", """{"city":"Paris"}"""), new FakeToolCall("get_time", """{"zone":"CET"}""")).Finish("tool_calls");

        var calls = Run(sse).Lines[0]["message"]!["tool_calls"]!.AsArray();

        Assert.Equal(2, calls.Count);
        Assert.Equal(["get_weather", "get_time"], calls.Select(c => (string?)c!["function"]!["name"]));
        Assert.Equal("""{"city":"Paris"}""", calls[0]!["function"]!["arguments"]!.ToJsonString());
        Assert.Equal("""{"zone":"CET"}""", calls[1]!["function"]!["arguments"]!.ToJsonString());
        Assert.Equal([0, 1], calls.Select(c => (int)c!["function"]!["index"]!));
    }

    [Fact]
    public void EmptyToolCallIds_AreSynthesised()
    {
        var sse = new LmStudioSse("up").ToolCalls(new ToolCallStreamOptions { EmptyIds = true }, new FakeToolCall("f", "{}"), new FakeToolCall("g", "{}")).Finish("tool_calls");

        var calls = Run(sse).Lines[0]["message"]!["tool_calls"]!.AsArray();

        var ids = calls.Select(c => (string?)c!["id"]).ToList();
        Assert.All(ids, id => Assert.StartsWith("call_", id, StringComparison.Ordinal));
        Assert.Equal(2, ids.Distinct().Count());
    }

    [Fact]
    public void ToolCallWithNoArguments_GetsAnEmptyObject()
    {
        var calls = Run(new LmStudioSse("up").ToolCalls(new FakeToolCall("now", "")).Finish("tool_calls")).Lines[0]["message"]!["tool_calls"]!;

        Assert.Equal("{}", calls[0]!["function"]!["arguments"]!.ToJsonString());
    }

    [Fact]
    public void DoubleEncodedArguments_AreUnwrappedIntoAnObject()
    {
        var calls = Run(new LmStudioSse("up").ToolCalls(new FakeToolCall("f", "\"{\\\"x\\\":1}\"")).Finish("tool_calls")).Lines[0]["message"]!["tool_calls"]!;

        Assert.Equal("""{"x":1}""", calls[0]!["function"]!["arguments"]!.ToJsonString());
    }

    [Fact]
    public void ArgumentsThatAreNotJson_ComeOutAsTextInsteadOfVanishing()
    {
        var lines = Run(new LmStudioSse("up").ToolCalls(new FakeToolCall("f", "{city: Tokyo")).Finish("tool_calls")).Lines;

        Assert.Equal(2, lines.Count);
        Assert.Contains("{city: Tokyo", (string?)lines[0]["message"]!["content"], StringComparison.Ordinal);
        Assert.False(lines[0]["message"]!.AsObject().ContainsKey("tool_calls"));
    }

    [Fact]
    public void ToolCallsWithoutFinishReason_AreStillEmittedAtDone()
    {
        var sse = new LmStudioSse("up").ToolCalls(new ToolCallStreamOptions { OmitFinishReason = true }, new FakeToolCall("f", """{"a":1}"""));

        var lines = Run(sse).Lines;

        Assert.Equal("f", (string?)lines[0]["message"]!["tool_calls"]![0]!["function"]!["name"]);
        Assert.True((bool?)lines[1]["done"]);
    }

    [Fact]
    public void TextBeforeToolCalls_GoesOutAsTextFirst()
    {
        var sse = new LmStudioSse("up").ToolCalls(new ToolCallStreamOptions { TextInSameDelta = "Let me check." }, new FakeToolCall("f", "{}")).Finish("tool_calls");

        var lines = Run(sse).Lines;

        Assert.Equal("Let me check.", (string?)lines[0]["message"]!["content"]);
        Assert.NotNull(lines[1]["message"]!["tool_calls"]);
    }

    [Fact]
    public void StreamFalse_AggregatesEverythingIntoOneObject()
    {
        var sse = new LmStudioSse("up").Reasoning("reasoning_content", "think", "ing").Content("Hel", "lo")
            .ToolCalls(new FakeToolCall("f", """{"k":"v"}""") { Id = "call_1" }).Finish("tool_calls").Usage(9, 8);

        var lines = Run(sse, stream: false).Lines;

        var only = Assert.Single(lines);
        Assert.True((bool?)only["done"]);
        Assert.Equal("Hello", (string?)only["message"]!["content"]);
        Assert.Equal("thinking", (string?)only["message"]!["thinking"]);
        Assert.Equal("""[{"id":"call_1","function":{"index":0,"name":"f","arguments":{"k":"v"}}}]""", only["message"]!["tool_calls"]!.ToJsonString());
        Assert.Equal(9, (int?)only["prompt_eval_count"]);
        Assert.Equal(8, (int?)only["eval_count"]);
    }

    [Fact]
    public void GenerateShape_UsesResponseAndThinking()
    {
        var lines = Run(LmStudioStreams.Reasoning("up", ["t"], ["ans"]), shape: OllamaAnswerShape.Generate).Lines;

        Assert.Equal("""{"response":"","thinking":"t","done":false}""", Strip(lines[0]));
        Assert.Equal("ans", (string?)lines[1]["response"]);
        Assert.Equal("", (string?)lines[2]["response"]);
        Assert.True((bool?)lines[2]["done"]);
    }

    [Fact]
    public void CompletionsTextChunks_GoToResponse()
    {
        string[] payloads =
        [
            """{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"Once","finish_reason":null}]}""",
            """{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" upon","finish_reason":null}]}""",
            """{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"","finish_reason":"length"}]}""",
            "[DONE]",
        ];

        var lines = Run(payloads, shape: OllamaAnswerShape.Generate, stream: false).Lines;

        Assert.Equal("Once upon", (string?)lines[0]["response"]);
        Assert.Equal("length", (string?)lines[0]["done_reason"]);
    }

    [Fact]
    public void WholeCompletionFromAnUpstreamThatIgnoredStream_IsTranslatedToo()
    {
        string[] payloads =
        [
            """{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{\"a\":2}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}""",
            "[DONE]",
        ];

        var only = Assert.Single(Run(payloads, stream: false).Lines);

        Assert.Equal("hi", (string?)only["message"]!["content"]);
        Assert.Equal("""{"a":2}""", only["message"]!["tool_calls"]![0]!["function"]!["arguments"]!.ToJsonString());
        Assert.Equal(4, (int?)only["eval_count"]);
    }

    [Fact]
    public void UpstreamErrorEvent_IsReportedAndNothingMoreIsWritten()
    {
        var result = Run(new LmStudioSse("up").Content("par").Raw("""{"error":{"message":"Model crashed","type":"server_error"}}""").WithoutDone(), writeDone: false);

        Assert.Equal("Model crashed", result.Translator.UpstreamError);
        Assert.Single(result.Lines);
        Assert.False(result.Translator.Finished);
    }

    [Fact]
    public void LlamaServerToolTranscript_BecomesOneWholeToolCallWithUpstreamTimings()
    {
        var transcript = Transcripts.Read("llama-server/tool-stream.sse");
        var payloads = transcript.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]);

        var lines = Run(payloads).Lines;

        Assert.Equal(2, lines.Count);
        var call = lines[0]["message"]!["tool_calls"]![0]!;
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.IsType<JsonObject>(call["function"]!["arguments"]);
        Assert.Equal("dNaGjYApAwADwAqGHpRleHgAvIZUQrk6", (string?)call["id"]);
        var done = lines[1];
        Assert.NotNull(done["prompt_eval_count"]);
        // llama.cpp reports its own prompt/generation times; those are used rather than the proxy's wall clock.
        Assert.NotNull(done["prompt_eval_duration"]);
        Assert.NotNull(done["eval_duration"]);
    }

    private static string Strip(JsonObject line)
    {
        var copy = line.DeepClone().AsObject();
        copy.Remove("model");
        copy.Remove("created_at");
        return copy.ToJsonString();
    }
}
