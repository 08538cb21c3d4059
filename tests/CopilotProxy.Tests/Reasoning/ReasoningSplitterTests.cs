using System.Text;
using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;

namespace CopilotProxy.Tests.Reasoning;

/// <summary>
/// Each form as its model writes it (the chat templates and parser tests cited in docs/protocol.md), cut into two deltas at
/// every byte: the client must get the same reasoning and answer whatever the cut.
/// </summary>
public sealed class ReasoningSplitterTests
{
    public static TheoryData<string, string, string, string> Transcripts => new()
    {
        // name, transcript, reasoning, answer
        { "qwen3", "<think>\nThe user greets me.\n</think>\n\nHello! 😀", "The user greets me.\n", "Hello! 😀" },
        { "deepseek-r1-0528", "<think>\nLet me count: 1 < 2.\n</think>\n\nTwo.", "Let me count: 1 < 2.\n", "Two." },
        { "magistral", "[THINK]Plan: say hi [briefly].[/THINK]Hi there.", "Plan: say hi [briefly].", "Hi there." },
        { "seed-oss", "<seed:think>Budget fine. <seed:cot_budget_reflect>ok</seed:cot_budget_reflect></seed:think>Done.", "Budget fine. <seed:cot_budget_reflect>ok</seed:cot_budget_reflect>", "Done." },
        { "gpt-oss", "<|channel|>analysis<|message|>User asks 2+2. Easy.<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>", "User asks 2+2. Easy.", "4" },
        { "gpt-oss-stray-commentary", "<|channel|>commentary<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>Answer.", "Think.", "Answer." },
        { "gemma4", "<|channel>thought\nThe sky scatters blue.<channel|>Because of Rayleigh scattering.", "The sky scatters blue.", "Because of Rayleigh scattering." },
        { "leading-whitespace", "\n\n<think>x</think>y", "x", "y" },
    };

    [Theory]
    [MemberData(nameof(Transcripts))]
    public void EveryForm_SplitAtEveryByte_GivesTheSameReasoningAndAnswer(string name, string transcript, string reasoning, string answer)
    {
        var bytes = Encoding.UTF8.GetBytes(transcript);
        Assert.Equal(new SplitResult(reasoning, answer), SplitResult.Run(ReasoningFormats.Auto, transcript));
        for (var at = 0; at <= bytes.Length; at++)
        {
            var split = SplitResult.RunSplitAt(ReasoningFormats.Auto, bytes, at);
            Assert.True(new SplitResult(reasoning, answer) == split, $"{name}, cut at byte {at}: {split}");
        }

        // One byte per delta, as the slowest upstream could send it.
        Assert.Equal(new SplitResult(reasoning, answer), SplitResult.Run(ReasoningFormats.Auto, bytes.Select(b => new[] { b })));
    }

    [Theory]
    [InlineData("<thinking about it> is not a tag.")]
    [InlineData("I'll explain the <think> tag: models put reasoning in it.")]
    [InlineData("Use </think> to close the block.")]
    [InlineData("[link](http://x) and [THINK] later")]
    [InlineData("- a list\n- <think>item</think>")]
    [InlineData("<|channel> is Gemma's token; <|channel|> is harmony's.")]
    [InlineData("  indented text")]
    [InlineData("<think")]
    [InlineData("[THIN")]
    public void LookAlikes_PassThroughByteForByte(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        for (var at = 0; at <= bytes.Length; at++)
        {
            Assert.Equal(new SplitResult("", text), SplitResult.RunSplitAt(ReasoningFormats.Auto, bytes, at));
        }
    }

    [Fact]
    public void PlainText_PassesWithoutCopyAndDecidesTheTagFormsOff()
    {
        using var splitter = new ReasoningSplitter(ReasoningFormats.Auto);
        // The first delta too: an answer that cannot open with a marker is decided without a copy of it (one upstream
        // event of 10 MB was held, parsed and rewritten, and its buffers kept the proxy's memory up: the chaos drill).
        Assert.Equal(ReasoningStep.Content, splitter.Append("Hello"u8));
        Assert.Equal(ReasoningStep.Content, splitter.Append(" <think>"u8));
        Assert.Equal(ReasoningStep.Content, splitter.Append(" world"u8));
        Assert.Null(splitter.Found);
    }

    [Fact]
    public void ReasoningDeltas_StreamAsTheyArrive()
    {
        using var splitter = new ReasoningSplitter(ReasoningFormats.Auto);
        Assert.Equal(ReasoningStep.Parts, splitter.Append("<think>"u8));
        Assert.Equal(0, splitter.PartCount);
        Assert.Equal(ReasoningStep.Parts, splitter.Append("\nfirst thought"u8));
        Assert.Equal("first thought", Encoding.UTF8.GetString(splitter.Part(0, out var first)));
        Assert.True(first);
        Assert.Equal(ReasoningStep.Reasoning, splitter.Append(", second"u8));
        Assert.Equal(ReasoningStep.Parts, splitter.Append(" done</"u8));
        Assert.Equal(" done", Encoding.UTF8.GetString(splitter.Part(0, out var reasoning)));
        Assert.True(reasoning);
        Assert.True(splitter.Holding);
        Assert.Equal(ReasoningStep.Parts, splitter.Append("think>\n\nAnswer"u8));
        Assert.Equal("Answer", Encoding.UTF8.GetString(splitter.Part(0, out reasoning)));
        Assert.False(reasoning);
        Assert.Equal(ReasoningFormats.Think, splitter.Found);
    }

    [Fact]
    public void StreamCutInsideReasoning_EndsItAsReasoning()
    {
        Assert.Equal(new SplitResult("half a thought </thi", ""), SplitResult.Run(ReasoningFormats.Auto, "<think>half a thought ", "</thi"));
        Assert.Equal(new SplitResult("User asks", ""), SplitResult.Run(ReasoningFormats.Auto, "<|channel|>analysis<|message|>User asks"));
    }

    [Fact]
    public void ClosingTagOnly_IsTextUnlessTheModelIsThinkOpen()
    {
        // Templates that write <think> into the prompt (QwQ, R1 distills): auto can't tell the reasoning from prose before
        // the tag, so the text stays text; think-open, named for the model, takes it as reasoning.
        const string Answer = "The user wants a haiku.\n</think>\n\nSnow falls.";
        Assert.Equal(new SplitResult("", Answer), SplitResult.Run(ReasoningFormats.Auto, Answer));
        Assert.Equal(new SplitResult("The user wants a haiku.\n", "Snow falls."), SplitResult.Run(ReasoningFormats.ThinkOpen, Answer));
        Assert.Equal(new SplitResult("R1-0528 writes the tag.", "Hi"), SplitResult.Run(ReasoningFormats.ThinkOpen, "<think>R1-0528 writes the tag.</think>Hi"));
    }

    [Fact]
    public void HarmonyToolCall_IsLeftInTheTextForTheRepair()
    {
        const string Call = "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Paris\"}<|call|>";
        var result = SplitResult.Run(ReasoningFormats.Auto, "<|channel|>analysis<|message|>Need weather.<|end|>" + Call);
        Assert.Equal(new SplitResult("Need weather.", Call), result);

        const string InChannel = "<|channel|>commentary to=functions.read_file json<|message|>{\"path\":\"a\"}<|call|>";
        Assert.Equal(new SplitResult("", InChannel), SplitResult.Run(ReasoningFormats.Auto, InChannel));

        // A later message with the recipient in its role header, even on the analysis channel (llama.cpp's gpt-oss tests).
        const string InRole = "<|start|>assistant to=functions.get_weather<|channel|>analysis<|message|>{\"city\":\"Paris\"}";
        Assert.Equal(new SplitResult("Need weather.", InRole), SplitResult.Run(ReasoningFormats.Harmony, "<|channel|>analysis<|message|>Need weather.<|end|>" + InRole));
    }

    /// <summary>
    /// The recipient in the role header, before the channel, of the answer's first message: the answer starts " to=" (the
    /// prompt held <c>&lt;|start|&gt;assistant</c>). The channel may even say analysis (llama.cpp's gpt-oss tests): the
    /// arguments are still a call for the repair, never reasoning.
    /// </summary>
    [Theory]
    [InlineData(" to=functions.get_weather<|channel|>analysis<|message|>{\"city\":\"Paris\"}<|call|>", "")]
    [InlineData("to=functions.get_weather<|channel|>commentary json<|message|>{\"city\":\"Paris\"}", "")]
    public void HarmonyRecipientBeforeTheChannel_IsLeftInTheTextForTheRepair(string written, string reasoning)
    {
        var call = written[(written.IndexOf("<|end|>", StringComparison.Ordinal) is var end and >= 0 ? end + "<|end|>".Length : 0)..];
        var bytes = Encoding.UTF8.GetBytes(written);
        foreach (var formats in new[] { ReasoningFormats.Auto, ReasoningFormats.Harmony })
        {
            for (var at = 0; at <= bytes.Length; at++)
            {
                Assert.Equal(new SplitResult(reasoning, call), SplitResult.RunSplitAt(formats, bytes, at));
            }
        }
    }

    [Fact]
    public void ToolCallAfterReasoning_StaysInTheAnswerText()
    {
        const string Call = "<tool_call>\n{\"name\":\"read_file\",\"arguments\":{\"path\":\"a.cs\"}}\n</tool_call>";
        Assert.Equal(new SplitResult("I should read it.", Call), SplitResult.Run(ReasoningFormats.Auto, "<think>I should read it.</think>\n\n" + Call));
    }

    [Fact]
    public void GemmaNamed_FindsThoughtBlocksAfterText()
    {
        const string Text = "Let me check.<|channel>thought\nWhich file?<channel|>Reading it.";
        Assert.Equal(new SplitResult("Which file?", "Let me check.Reading it."), SplitResult.Run(ReasoningFormats.Gemma, Text));
        Assert.Equal(new SplitResult("", Text), SplitResult.Run(ReasoningFormats.Auto, Text));
    }

    [Fact]
    public void Off_PassesEverything()
    {
        using var splitter = new ReasoningSplitter(ReasoningFormats.None);
        Assert.False(splitter.Active);
        Assert.Equal(ReasoningStep.Content, splitter.Append("<think>x</think>"u8));
    }

    [Fact]
    public void OnlyTheNamedFormat_IsTaken()
    {
        Assert.Equal(new SplitResult("", "<think>x</think>y"), SplitResult.Run(ReasoningFormats.Mistral, "<think>x</think>y"));
        Assert.Equal(new SplitResult("x", "y"), SplitResult.Run(ReasoningFormats.Mistral, "[THINK]x[/THINK]y"));
    }
}
