using System.Text;
using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;

namespace CopilotProxy.Tests.Reasoning;

/// <summary>What a client ends up with: the reasoning and the answer text, each the concatenation of what was released.</summary>
internal sealed record SplitResult(string Reasoning, string Content)
{
    /// <summary>Feeds the pieces to a new splitter as content deltas, then ends the answer.</summary>
    public static SplitResult Run(ReasoningFormats formats, IEnumerable<byte[]> pieces)
    {
        using var splitter = new ReasoningSplitter(formats);
        var reasoning = new List<byte>();
        var content = new List<byte>();
        foreach (var piece in pieces)
        {
            switch (splitter.Append(piece))
            {
                case ReasoningStep.Content:
                    content.AddRange(piece);
                    break;
                case ReasoningStep.Reasoning:
                    reasoning.AddRange(piece);
                    break;
                default:
                    Collect(splitter, reasoning, content);
                    break;
            }
        }

        splitter.Finish();
        Collect(splitter, reasoning, content);
        return new(Encoding.UTF8.GetString([.. reasoning]), Encoding.UTF8.GetString([.. content]));
    }

    public static SplitResult Run(ReasoningFormats formats, params string[] pieces) =>
        Run(formats, pieces.Select(Encoding.UTF8.GetBytes));

    /// <summary>The transcript cut into two deltas at byte <paramref name="at"/>.</summary>
    public static SplitResult RunSplitAt(ReasoningFormats formats, byte[] whole, int at) =>
        Run(formats, [whole[..at], whole[at..]]);

    private static void Collect(ReasoningSplitter splitter, List<byte> reasoning, List<byte> content)
    {
        for (var i = 0; i < splitter.PartCount; i++)
        {
            var part = splitter.Part(i, out var isReasoning);
            (isReasoning ? reasoning : content).AddRange(part.ToArray());
        }
    }
}
