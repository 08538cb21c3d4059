using System.Buffers;

namespace CopilotProxy.Reasoning;

/// <summary>
/// The markers models write around their reasoning, as their chat templates spell them (docs/protocol.md, "Reasoning
/// written as text"), and the one search every state of <see cref="ReasoningSplitter"/> uses to find them in a stream.
/// </summary>
internal static class ReasoningMarkers
{
    public static readonly byte[] ThinkOpen = "<think>"u8.ToArray();
    public static readonly byte[] ThinkClose = "</think>"u8.ToArray();
    public static readonly byte[] MistralOpen = "[THINK]"u8.ToArray();
    public static readonly byte[] MistralClose = "[/THINK]"u8.ToArray();
    public static readonly byte[] SeedOpen = "<seed:think>"u8.ToArray();
    public static readonly byte[] SeedClose = "</seed:think>"u8.ToArray();
    public static readonly byte[] GemmaOpen = "<|channel>thought"u8.ToArray();
    public static readonly byte[] GemmaClose = "<channel|>"u8.ToArray();
    public static readonly byte[] HarmonyStart = "<|start|>"u8.ToArray();
    public static readonly byte[] HarmonyChannel = "<|channel|>"u8.ToArray();
    public static readonly byte[] HarmonyMessage = "<|message|>"u8.ToArray();
    public static readonly byte[] HarmonyEnd = "<|end|>"u8.ToArray();
    public static readonly byte[] HarmonyReturn = "<|return|>"u8.ToArray();
    public static readonly byte[] HarmonyCall = "<|call|>"u8.ToArray();

    /// <summary>A harmony role header's recipient, when it comes before the channel.</summary>
    public static readonly byte[] HarmonyRecipient = "to="u8.ToArray();

    /// <summary>The bytes any marker starts with: text without them holds no marker and needs no look.</summary>
    public static readonly SearchValues<byte> Starts = SearchValues.Create("<["u8);

    public static ReadOnlySpan<byte> Whitespace => " \t\r\n"u8;

    /// <summary>
    /// The first place in <paramref name="text"/> where one of <paramref name="markers"/> starts: a whole marker
    /// (<c>Whole</c>), or the start of one that the end of the text cuts off, which the caller holds until the next delta
    /// decides it. Index is -1 when the text holds neither.
    /// </summary>
    public static (int Index, int Marker, bool Whole) Find(ReadOnlySpan<byte> text, ReadOnlySpan<byte[]> markers)
    {
        var from = 0;
        while (from < text.Length)
        {
            var next = text[from..].IndexOfAny(Starts);
            if (next < 0)
            {
                break;
            }

            var at = from + next;
            var rest = text[at..];
            for (var i = 0; i < markers.Length; i++)
            {
                if (rest.StartsWith(markers[i]))
                {
                    return (at, i, true);
                }
            }

            for (var i = 0; i < markers.Length; i++)
            {
                if (rest.Length < markers[i].Length && markers[i].AsSpan().StartsWith(rest))
                {
                    return (at, i, false);
                }
            }

            from = at + 1;
        }

        return (-1, -1, false);
    }
}
