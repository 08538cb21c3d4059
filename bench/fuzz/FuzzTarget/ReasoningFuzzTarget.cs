using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;

namespace CopilotProxy.Fuzz;

/// <summary>
/// The reasoning splitter over any bytes, cut into deltas of any size: it must not throw, must release every byte it was
/// given except the markers it recognised, and must give back the input unchanged when it found no form.
/// </summary>
public static class ReasoningFuzzTarget
{
    private static readonly ReasoningFormats[] Choices =
    [
        ReasoningFormats.Auto, ReasoningFormats.ThinkOpen, ReasoningFormats.Harmony, ReasoningFormats.Gemma, ReasoningFormats.Mistral, ReasoningFormats.Seed,
    ];

    /// <summary>First byte: the formats; second: the delta size; the rest: the answer text.</summary>
    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return;
        }

        var formats = Choices[data[0] % Choices.Length];
        var size = Math.Max(1, (int)data[1]);
        var text = data[2..];
        using var splitter = new ReasoningSplitter(formats);
        var released = new List<byte>(text.Length);
        for (var at = 0; at < text.Length; at += size)
        {
            var delta = text[at..Math.Min(text.Length, at + size)];
            if (splitter.Append(delta) is ReasoningStep.Content or ReasoningStep.Reasoning)
            {
                released.AddRange(delta);
            }
            else
            {
                Collect(splitter, released);
            }
        }

        splitter.Finish();
        Collect(splitter, released);
        if (released.Count > text.Length)
        {
            throw new InvalidOperationException($"released {released.Count} bytes of {text.Length}");
        }

        if (splitter.Found is null && formats != ReasoningFormats.ThinkOpen && !text.SequenceEqual(released.ToArray()))
        {
            throw new InvalidOperationException("no form was found, yet the text changed");
        }
    }

    private static void Collect(ReasoningSplitter splitter, List<byte> released)
    {
        for (var i = 0; i < splitter.PartCount; i++)
        {
            released.AddRange(splitter.Part(i, out _));
        }
    }
}
