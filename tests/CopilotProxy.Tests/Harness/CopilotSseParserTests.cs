namespace CopilotProxy.Tests.Harness;

public class CopilotSseParserTests
{
    private const string Model = "qwen/qwen3-8b";

    private static string Body(IEnumerable<string> payloads) => string.Concat(payloads.Select(p => "data: " + p + "\n\n"));

    private static FakeToolCall ReadFile(string path, string id) => new("read_file", $"{{\"path\":\"{path}\"}}") { Id = id };

    [Fact]
    public void LlamaServerToolTranscript_YieldsOneGetWeatherCall()
    {
        var turn = CopilotSseParser.Parse(Transcripts.Read("llama-server/tool-stream.sse"));

        var call = Assert.Single(turn.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("dNaGjYApAwADwAqGHpRleHgAvIZUQrk6", call.Id);
        Assert.True(call.ArgumentsValid);
        Assert.Equal("Paris", call.Arguments.GetProperty("city").GetString());
        Assert.Equal("c", call.Arguments.GetProperty("unit").GetString());
        Assert.Equal(2, call.Arguments.EnumerateObject().Count());
        Assert.Equal("tool_calls", turn.FinishReason);
        Assert.True(turn.SawDone);
        Assert.Null(turn.Error);
        Assert.Equal("", turn.Text);
        Assert.Empty(turn.Malformed);
        Assert.NotNull(turn.Usage);
    }

    [Fact]
    public void LlamaServerTextTranscript_YieldsTextLengthAndUsage()
    {
        var turn = CopilotSseParser.Parse(Transcripts.Read("llama-server/text-stream.sse"));

        Assert.Equal(string.Concat(Enumerable.Repeat(" constrained", 8)), turn.Text);
        Assert.Equal("length", turn.FinishReason);
        Assert.Equal(new CopilotUsage(61, 8, 69), turn.Usage);
        Assert.Empty(turn.ToolCalls);
    }

    [Fact]
    public void SequentialParallelCalls_AreGroupedPerCall()
    {
        var body = Body(LmStudioStreams.ToolCalls(Model, ReadFile("a.txt", "111111111"), ReadFile("b.txt", "222222222")));

        var turn = CopilotSseParser.Parse(body);

        Assert.Equal(["111111111", "222222222"], turn.ToolCalls.Select(c => c.Id));
        Assert.Equal(["a.txt", "b.txt"], turn.ToolCalls.Select(c => c.Arguments.GetProperty("path").GetString()));
        Assert.Null(turn.Error);
    }

    [Fact]
    public void InterleavedParallelCallsWithoutIdsOnLaterFragments_AreMisgroupedLikeCopilot()
    {
        var options = new ToolCallStreamOptions { Interleave = true };
        var body = Body(LmStudioStreams.ToolCalls(Model, options, ReadFile("a.txt", "111111111"), ReadFile("b.txt", "222222222")));

        var turn = CopilotSseParser.Parse(body);

        // Copilot ignores index: every id-less piece lands on the last call that had an id.
        Assert.Equal(2, turn.ToolCalls.Count);
        Assert.Equal("", turn.ToolCalls[0].RawArguments);
        Assert.False(turn.ToolCalls[1].ArgumentsValid);
        Assert.StartsWith("Invalid JSON for tool call", turn.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void InterleavedCallsWithIdOnEveryFragment_StillSplitIntoExtraCalls()
    {
        var options = new ToolCallStreamOptions { Interleave = true, IdOnEveryFragment = true };
        var body = Body(LmStudioStreams.ToolCalls(Model, options, ReadFile("a.txt", "111111111"), ReadFile("b.txt", "222222222")));

        var turn = CopilotSseParser.Parse(body);

        // Ids are only compared with the last call, so alternating ids start a new call each time.
        Assert.True(turn.ToolCalls.Count > 2);
    }

    [Fact]
    public void EmptyToolCallIds_MergeParallelCallsIntoOne()
    {
        var options = new ToolCallStreamOptions { EmptyIds = true };
        var body = Body(LmStudioStreams.ToolCalls(Model, options, ReadFile("a.txt", "1"), ReadFile("b.txt", "2")));

        var turn = CopilotSseParser.Parse(body);

        var call = Assert.Single(turn.ToolCalls);
        Assert.Null(call.Id);
        Assert.Equal("{\"path\":\"a.txt\"}{\"path\":\"b.txt\"}", call.RawArguments);
        Assert.False(call.ArgumentsValid);
    }

    [Fact]
    public void ToolCallsWithoutFinishReason_AreNeverRun()
    {
        var options = new ToolCallStreamOptions { OmitFinishReason = true };
        var body = Body(LmStudioStreams.ToolCalls(Model, options, ReadFile("a.txt", "1")));

        var turn = CopilotSseParser.Parse(body);

        Assert.Empty(turn.ToolCalls);
        Assert.Equal("DONE", turn.FinishReason);
    }

    [Fact]
    public void TextInSameDeltaAsToolCall_IsDropped()
    {
        var options = new ToolCallStreamOptions { TextInSameDelta = "Let me look." };
        var body = Body(LmStudioStreams.ToolCalls(Model, options, ReadFile("a.txt", "1")));

        var turn = CopilotSseParser.Parse(body);

        Assert.Equal("", turn.Text);
        Assert.Single(turn.ToolCalls);
    }

    [Fact]
    public void TextBeforeToolCall_GetsCopilotsFlushSpace()
    {
        var body = Body(new LmStudioSse(Model).Content("Let me look.").ToolCalls(ReadFile("a.txt", "1")).Finish("tool_calls"));

        var turn = CopilotSseParser.Parse(body);

        Assert.Equal("Let me look. ", turn.Text);
        Assert.Single(turn.ToolCalls);
    }

    [Fact]
    public void EventLine_IsReportedMalformedAndSkipped()
    {
        var body = "event: message\n" + Body(LmStudioStreams.Text(Model, "Hi"));

        var turn = CopilotSseParser.Parse(body);

        Assert.Equal(["event: message"], turn.Malformed);
        Assert.Equal("Hi", turn.Text);
        Assert.Equal("stop", turn.FinishReason);
    }

    [Fact]
    public void CommentsCrLfAndUnspacedDone_AreHandledLikeCopilot()
    {
        var chunk = new LmStudioSse(Model).Content("line\r").WithoutDone().Payloads[0];
        var body = ": keep-alive\n" + "data: " + chunk + "\r\n\r\n" + "data:[DONE]\n\ndata: " + chunk + "\n\n";

        var turn = CopilotSseParser.Parse(body);

        Assert.Equal(1, turn.CommentLines);
        // A CRLF blank line is not blank to Copilot: it is sliced to "" and logged as bad JSON.
        Assert.Equal(["\r"], turn.Malformed);
        Assert.Equal("line", turn.Text);
        Assert.True(turn.SawDone);
        Assert.Equal("DONE", turn.FinishReason);
    }

    [Fact]
    public void ReasoningContent_IsNotShownAsThinking()
    {
        var turn = CopilotSseParser.Parse(Body(LmStudioStreams.Reasoning(Model, ["Let", " me", " think"], ["Answer"])));

        Assert.Equal("", turn.Thinking);
        Assert.Equal("Answer", turn.Text);
    }

    [Fact]
    public void ReasoningText_IsShownAsThinking()
    {
        var turn = CopilotSseParser.Parse(Body(LmStudioStreams.Reasoning(Model, ["Let", " me"], ["Answer"], field: "reasoning_text")));

        Assert.Equal("Let me", turn.Thinking);
        Assert.Equal("Answer", turn.Text);
    }

    [Fact]
    public void ErrorChunkWithoutChoices_FailsTheTurn()
    {
        var body = Body(new LmStudioSse(Model).Raw(LmStudioStreams.Error("Model crashed")));

        var turn = CopilotSseParser.Parse(body);

        Assert.Equal("error", turn.FinishReason);
        Assert.Equal("{\"message\":\"Model crashed\",\"type\":\"server_error\"}", turn.Error);
    }

    [Fact]
    public void ErrorChunkWithEmptyChoices_IsIgnoredByCopilot()
    {
        var body = Body(new LmStudioSse(Model).Content("partial").Raw("{\"choices\":[],\"error\":{\"message\":\"boom\"}}"));

        var turn = CopilotSseParser.Parse(body);

        Assert.Null(turn.Error);
        Assert.Empty(turn.StreamErrors);
        Assert.Equal("DONE", turn.FinishReason);
    }

    [Fact]
    public void BodyWithoutDone_EndsWithIterationDoneAndKeepsPartialLine()
    {
        var payloads = new LmStudioSse(Model).Content("Hi").WithoutDone().Payloads;
        var body = Body(payloads) + "data: [DONE]";

        var turn = CopilotSseParser.Parse(body);

        Assert.False(turn.SawDone);
        Assert.Equal("Iteration Done", turn.FinishReason);
        Assert.Equal("data: [DONE]", turn.TrailingPartialLine);
    }

    [Fact]
    public void UsageChunk_IsCaptured()
    {
        var turn = CopilotSseParser.Parse(Body(LmStudioStreams.Text(Model, "a", "b").Usage(12, 2)));

        Assert.Equal(new CopilotUsage(12, 2, 14), turn.Usage);
        Assert.Equal("stop", turn.FinishReason);
    }

    [Fact]
    public void FeedInTinyPieces_GivesSameTurnAsWholeBody()
    {
        var body = Transcripts.Read("llama-server/tool-stream.sse");
        var parser = new CopilotSseParser();
        for (var i = 0; i < body.Length; i += 7)
        {
            parser.Feed(body.Substring(i, Math.Min(7, body.Length - i)));
        }

        var turn = parser.Complete();

        Assert.Equal(CopilotSseParser.Parse(body).ToolCalls[0].RawArguments, Assert.Single(turn.ToolCalls).RawArguments);
        Assert.True(turn.SawDone);
    }
}
