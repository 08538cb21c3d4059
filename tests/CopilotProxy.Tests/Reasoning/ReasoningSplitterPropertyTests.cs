using System.Text;
using CopilotProxy.Configuration;
using CsCheck;

namespace CopilotProxy.Tests.Reasoning;

/// <summary>
/// Random answers in each form, with look-alike text in the reasoning and the answer (a bare <c>&lt;think</c>, prose that
/// names <c>&lt;/think&gt;</c>, <c>&lt;thinking about it&gt;</c>, brackets, multi-byte characters), cut into random deltas: the
/// client must get exactly the reasoning and answer that were written, whatever the cuts. Fixed iteration count; a failure
/// prints the seed (CsCheck_Seed=... dotnet test ...).
/// </summary>
public sealed class ReasoningSplitterPropertyTests
{
    private const long Iterations = 2000;

    private static readonly Gen<string> Piece = Gen.OneOf(
        "a", "word", " ", "\n", "é", "😀", "中文", "<", ">", "[", "]", "</", "<think", "<thinking about it>", "</think>", "<think>", "[THINK]",
        "[/THINK]", "<seed:think>", "</seed:think>", "<|", "|>", "<|channel|>", "<|end|>", "<channel|>", "<|channel>thought", "x < y");

    /// <summary>(form, opener, closer): what each form writes around its reasoning.</summary>
    private static readonly (ReasoningFormats Form, string Open, string Close)[] Forms =
    [
        (ReasoningFormats.Think, "<think>", "</think>"),
        (ReasoningFormats.Mistral, "[THINK]", "[/THINK]"),
        (ReasoningFormats.Seed, "<seed:think>", "</seed:think>"),
        (ReasoningFormats.Gemma, "<|channel>thought\n", "<channel|>"),
        (ReasoningFormats.Harmony, "<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>"),
    ];

    private static readonly Gen<string> Text = Piece.Array[0, 12].Select(p => string.Concat(p));

    [Fact]
    public void AnyFormAnyCuts_GiveTheWrittenReasoningAndAnswer()
    {
        Gen.Select(Gen.Int[-1, Forms.Length - 1], Text, Text, Gen.Int[0, 1000].Array[0, 8])
            .Where(t => Valid(t.Item1, t.Item2, t.Item3))
            .Sample(t =>
            {
                var (form, reasoningText, answerText, cuts) = t;
                var reasoning = "R" + reasoningText;
                var answer = "A" + answerText;
                var written = form < 0 ? answer : Forms[form].Open + reasoning + Forms[form].Close + answer;
                var expected = form < 0 ? new SplitResult("", answer) : new SplitResult(reasoning, answer);
                var bytes = Encoding.UTF8.GetBytes(written);
                var actual = SplitResult.Run(ReasoningFormats.Auto, Cut(bytes, cuts));
                return expected == actual;
            }, iter: Iterations);
    }

    /// <summary>
    /// The same answers as a streamed Responses answer, cut between characters (a delta is a JSON string), empty deltas
    /// included, with and without tools: a reasoning item with exactly the reasoning, then the message with exactly the
    /// answer, in a stream a strict parser accepts.
    /// </summary>
    [Fact]
    public void AnyFormAnyCuts_StreamedResponses_GiveAReasoningItemAndTheAnswer()
    {
        Gen.Select(Gen.Int[-1, Forms.Length - 1], Text, Text, Gen.Int[0, 1000].Array[0, 8], Gen.Bool)
            .Where(t => Valid(t.Item1, t.Item2, t.Item3))
            .Sample(t =>
            {
                var (form, reasoningText, answerText, cuts, tools) = t;
                var reasoning = "R" + reasoningText;
                var answer = "A" + answerText;
                var written = form < 0 ? answer : Forms[form].Open + reasoning + Forms[form].Close + answer;
                var output = new System.Buffers.ArrayBufferWriter<byte>();
                using var repair = tools ? new CopilotProxy.ToolCalls.ToolCallRepair(["get_weather"], "m", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance) : null;
                using var rewrite = new CopilotProxy.OpenAI.ResponsesReasoning(new CopilotProxy.Reasoning.ReasoningSplitter(ReasoningFormats.Auto));
                var relay = new CopilotProxy.OpenAI.EventStreamRelay(output, CopilotProxy.OpenAI.EventApi.Responses, "m", repair) { Reasoning = rewrite };
                foreach (var e in Harness.LmStudioEventStreams.Responses("m", [.. CutText(written, cuts)], null, 12))
                {
                    relay.OnEvent(Encoding.UTF8.GetBytes(e.Data));
                }

                var outcome = CopilotProxy.Tests.OpenAI.ResponsesOutcome.Check(Encoding.UTF8.GetString(output.WrittenSpan));
                return outcome.Reasoning == (form < 0 ? null : reasoning) && outcome.Text == answer
                    && outcome.Items.SequenceEqual(form < 0 ? ["message"] : ["reasoning", "message"]);
            }, iter: Iterations / 2);
    }

    /// <summary>Cuts between characters, never inside a surrogate pair; repeated cuts give empty deltas.</summary>
    private static IEnumerable<string> CutText(string text, int[] cuts)
    {
        var at = 0;
        foreach (var raw in cuts.Select(c => c % (text.Length + 1)).Order())
        {
            var cut = raw > 0 && raw < text.Length && char.IsLowSurrogate(text[raw]) ? raw - 1 : raw;
            yield return text[at..Math.Max(at, cut)];
            at = Math.Max(at, cut);
        }

        yield return text[at..];
    }

    /// <summary>Reasoning can't hold its own closing marker; an answer after a Gemma or harmony block can't hold that format's markers (they are watched in the whole answer).</summary>
    private static bool Valid(int form, string reasoning, string answer)
    {
        if (form < 0)
        {
            return true;
        }

        var (kind, _, close) = Forms[form];
        var closer = kind == ReasoningFormats.Harmony ? "<|" : close;
        return !("R" + reasoning + close[..1]).Contains(closer, StringComparison.Ordinal)
            && !(kind is ReasoningFormats.Harmony or ReasoningFormats.Gemma && answer.Contains("<|", StringComparison.Ordinal));
    }

    private static IEnumerable<byte[]> Cut(byte[] bytes, int[] cuts)
    {
        var at = 0;
        foreach (var cut in cuts.Select(c => c % (bytes.Length + 1)).Order())
        {
            yield return bytes[at..Math.Max(at, cut)];
            at = Math.Max(at, cut);
        }

        yield return bytes[at..];
    }
}
