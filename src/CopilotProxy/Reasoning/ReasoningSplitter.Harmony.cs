using CopilotProxy.Configuration;

namespace CopilotProxy.Reasoning;

/// <summary>
/// gpt-oss's harmony format written as text: each message is <c>&lt;|start|&gt;assistant&lt;|channel|&gt;NAME …&lt;|message|&gt;</c>
/// (the first one's role is in the prompt, so the answer starts at <c>&lt;|channel|&gt;</c>), then the body, then
/// <c>&lt;|end|&gt;</c>, <c>&lt;|return|&gt;</c> or, for a tool, <c>&lt;|call|&gt;</c>.
/// </summary>
/// <remarks>
/// The <c>analysis</c> channel is reasoning; <c>final</c> (and a <c>commentary</c> preamble with no recipient) is the answer,
/// its header and end markers dropped. A message with a recipient (<c>to=functions.NAME</c>) or a channel the proxy does not
/// know is left exactly as written, markers included, for the tool-call repair to read.
/// </remarks>
public sealed partial class ReasoningSplitter
{
    /// <summary>Headers are a few words; a longer run with no <c>&lt;|message|&gt;</c> is text that only looked like one.</summary>
    private const int MaxHeaderLength = 256;

    private static readonly byte[][] HarmonyTextMarkers =
        [ReasoningMarkers.HarmonyStart, ReasoningMarkers.HarmonyChannel, ReasoningMarkers.HarmonyEnd, ReasoningMarkers.HarmonyReturn];

    private static readonly byte[][] HarmonyReasoningMarkers =
        [ReasoningMarkers.HarmonyEnd, ReasoningMarkers.HarmonyReturn, ReasoningMarkers.HarmonyStart, ReasoningMarkers.HarmonyChannel];

    private static readonly byte[][] HarmonyPassthroughMarkers =
        [ReasoningMarkers.HarmonyCall, ReasoningMarkers.HarmonyEnd, ReasoningMarkers.HarmonyReturn, ReasoningMarkers.HarmonyStart, ReasoningMarkers.HarmonyChannel];

    private static readonly byte[][] HeaderBreakers = [ReasoningMarkers.HarmonyEnd, ReasoningMarkers.HarmonyReturn, ReasoningMarkers.HarmonyCall];

    /// <summary>A header from its first marker: held until <c>&lt;|message|&gt;</c> says which channel the body is on.</summary>
    private int StepHarmonyHeader(ReadOnlySpan<byte> text)
    {
        // Only the answer's first header can have whitespace before it (StepStart leaves it there).
        var lead = text.Length - text.TrimStart(ReasoningMarkers.Whitespace).Length;
        var message = text.IndexOf(ReasoningMarkers.HarmonyMessage);
        var limit = message >= 0 ? message : text.Length;
        var broken = ReasoningMarkers.Find(text[..limit], HeaderBreakers) is ( >= 0, _, true);
        if (message < 0 && !broken && text.Length <= MaxHeaderLength)
        {
            return -1;
        }

        var marker = text[lead..].StartsWith(ReasoningMarkers.HarmonyStart) ? ReasoningMarkers.HarmonyStart.Length
            : text[lead..].StartsWith(ReasoningMarkers.HarmonyChannel) ? ReasoningMarkers.HarmonyChannel.Length
            : 0;
        if (message < 0 || broken)
        {
            if (marker == 0)
            {
                // A start that only looked like a recipient: text, as an answer with no marker at its start is.
                _state = TextState;
                return 0;
            }

            // Not a header after all: its first marker is text, and the scan goes on after it.
            Emit(false, text[..(lead + marker)]);
            _state = State.HarmonyText;
            return lead + marker;
        }

        var header = text[..(message + ReasoningMarkers.HarmonyMessage.Length)];
        var channel = ChannelOf(header);
        if (marker == 0 || header.IndexOf(" to="u8) >= 0 || !(channel.IsEmpty || channel.SequenceEqual("analysis"u8) || channel.SequenceEqual("final"u8) || channel.SequenceEqual("commentary"u8)))
        {
            Emit(false, header);
            _state = State.HarmonyPassthrough;
            return header.Length;
        }

        Found ??= ReasoningFormats.Harmony;
        _state = channel.SequenceEqual("analysis"u8) ? State.HarmonyReasoning : State.HarmonyText;
        return header.Length;
    }

    /// <summary>The channel's name: the word after the header's last <c>&lt;|channel|&gt;</c> (gpt-oss sometimes writes a stray one before the real one).</summary>
    private static ReadOnlySpan<byte> ChannelOf(ReadOnlySpan<byte> header)
    {
        var at = header.LastIndexOf(ReasoningMarkers.HarmonyChannel);
        if (at < 0)
        {
            return default;
        }

        var name = header[(at + ReasoningMarkers.HarmonyChannel.Length)..];
        var end = name.IndexOfAny(" <"u8);
        return end < 0 ? name : name[..end];
    }

    private int StepHarmonyText(ReadOnlySpan<byte> text)
    {
        var (index, marker, whole) = ReasoningMarkers.Find(text, HarmonyTextMarkers);
        if (index < 0)
        {
            return EmitAll(false, text);
        }

        Emit(false, text[..index]);
        if (!whole)
        {
            return index == 0 ? -1 : index;
        }

        if (marker < 2)
        {
            _state = State.HarmonyHeader;
            return index;
        }

        // The end of the answer's message: a marker, not text.
        Found ??= ReasoningFormats.Harmony;
        return index + HarmonyTextMarkers[marker].Length;
    }

    private int StepHarmonyReasoning(ReadOnlySpan<byte> text)
    {
        var (index, marker, whole) = ReasoningMarkers.Find(text, HarmonyReasoningMarkers);
        if (index < 0)
        {
            return EmitAll(true, text);
        }

        Emit(true, text[..index]);
        if (!whole)
        {
            return index == 0 ? -1 : index;
        }

        if (marker < 2)
        {
            _state = State.HarmonyText;
            return index + HarmonyReasoningMarkers[marker].Length;
        }

        // A new message began without the analysis message's end marker.
        _state = State.HarmonyHeader;
        return index;
    }

    private int StepHarmonyPassthrough(ReadOnlySpan<byte> text)
    {
        var (index, marker, whole) = ReasoningMarkers.Find(text, HarmonyPassthroughMarkers);
        if (index < 0)
        {
            return EmitAll(false, text);
        }

        if (!whole)
        {
            Emit(false, text[..index]);
            return index == 0 ? -1 : index;
        }

        if (marker < 3)
        {
            // The tool message ends with its marker, kept with it.
            var end = index + HarmonyPassthroughMarkers[marker].Length;
            Emit(false, text[..end]);
            _state = State.HarmonyText;
            return end;
        }

        Emit(false, text[..index]);
        _state = State.HarmonyHeader;
        return index;
    }
}
