using System.Buffers;
using System.Text;
using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Reasoning;

/// <summary>The splitter over a whole (non-streamed) answer text.</summary>
public sealed partial class ReasoningSplitter
{
    /// <summary>The answer's reasoning and its text, or null when the text holds no form (it stays as it is).</summary>
    public static (string Reasoning, string Content, ReasoningFormats Found)? SplitWhole(string text, ReasoningFormats formats, string model, ILogger logger) =>
        SplitRuns(text, formats, model, logger) is { } split
            ? (string.Concat(split.Runs.Where(r => r.Reasoning).Select(r => r.Text)), string.Concat(split.Runs.Where(r => !r.Reasoning).Select(r => r.Text)), split.Found)
            : null;

    /// <summary>
    /// The answer as runs of reasoning and of answer text in the order written (a later thought block is a run of its own,
    /// as the streamed Messages and Responses answers show it), or null when the text holds no form.
    /// </summary>
    public static (IReadOnlyList<(bool Reasoning, string Text)> Runs, ReasoningFormats Found)? SplitRuns(string text, ReasoningFormats formats, string model, ILogger logger)
    {
        using var splitter = new ReasoningSplitter(formats, model, logger);
        var bytes = Encoding.UTF8.GetBytes(text);
        var runs = new List<(bool Reasoning, ArrayBufferWriter<byte> Text)>();
        var step = splitter.Append(bytes);
        if (step != ReasoningStep.Parts)
        {
            Add(runs, step == ReasoningStep.Reasoning, bytes);
        }

        splitter.CollectInto(runs);
        splitter.Finish();
        splitter.CollectInto(runs);
        return splitter.Found is { } found
            ? ([.. runs.Select(r => (r.Reasoning, Encoding.UTF8.GetString(r.Text.WrittenSpan)))], found)
            : null;
    }

    private void CollectInto(List<(bool Reasoning, ArrayBufferWriter<byte> Text)> runs)
    {
        for (var i = 0; i < PartCount; i++)
        {
            var part = Part(i, out var isReasoning);
            Add(runs, isReasoning, part);
        }
    }

    private static void Add(List<(bool Reasoning, ArrayBufferWriter<byte> Text)> runs, bool reasoning, ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        if (runs.Count == 0 || runs[^1].Reasoning != reasoning)
        {
            runs.Add((reasoning, new ArrayBufferWriter<byte>()));
        }

        runs[^1].Text.Write(text);
    }
}
