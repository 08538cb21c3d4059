using CopilotProxy.Configuration;

namespace CopilotProxy.Reasoning;

/// <summary>The start of the answer: which opening marker (if any) begins it, and what the rest of the answer is watched for.</summary>
public sealed partial class ReasoningSplitter
{
    private int StepStart(ReadOnlySpan<byte> text)
    {
        var body = text.TrimStart(ReasoningMarkers.Whitespace);
        if (body.IsEmpty)
        {
            return -1;
        }

        var whitespace = text.Length - body.Length;
        if (OpenerAt(body, out var partial) is { } opener)
        {
            // Whitespace before a harmony header stays with it until the header shows whether the proxy takes it apart
            // (StepHarmonyHeader): dropped before a header it takes apart, kept as text before any other.
            return (opener.Format == ReasoningFormats.Harmony ? 0 : whitespace) + Open(opener);
        }

        if ((_formats & ReasoningFormats.Harmony) != 0)
        {
            // gpt-oss may name the recipient in the role header, whose "<|start|>assistant" is in the prompt: the answer then
            // starts " to=functions.NAME<|channel|>…", a tool message kept whole (its whitespace too) for the repair.
            if (body.StartsWith(ReasoningMarkers.HarmonyRecipient))
            {
                _state = State.HarmonyHeader;
                return 0;
            }

            partial |= body.Length < ReasoningMarkers.HarmonyRecipient.Length && ReasoningMarkers.HarmonyRecipient.AsSpan().StartsWith(body);
        }

        if (partial)
        {
            return -1;
        }

        if (_formats == ReasoningFormats.ThinkOpen)
        {
            EnterReasoning(ReasoningMarkers.ThinkClose, State.Off, ReasoningFormats.ThinkOpen);
            _state = State.Reasoning;
            return whitespace;
        }

        _state = TextState;
        return 0;
    }

    /// <summary>
    /// Answer text with no opening marker at its start: the tag forms are off for this answer, unless the format was named
    /// for the model.
    /// </summary>
    private State TextState => _formats switch
    {
        ReasoningFormats.Harmony => State.HarmonyText,
        ReasoningFormats.Gemma => State.GemmaText,
        _ => (_formats & ReasoningFormats.Think) != 0 ? State.Plain : State.Off,
    };

    /// <summary>
    /// False when <paramref name="text"/>, the start of the answer, can begin no opening marker: its first byte is no
    /// whitespace (which may precede one) and it is neither an opener nor the start of one. <see cref="StepStart"/> then
    /// decides the answer's state without using a byte.
    /// </summary>
    private bool MayOpen(ReadOnlySpan<byte> text) =>
        ReasoningMarkers.Whitespace.Contains(text[0]) || OpenerAt(text, out var partial) is not null || partial;

    /// <summary>The opener <paramref name="body"/> starts with; else null, and <paramref name="partial"/> says whether more bytes could still make one.</summary>
    private Opener? OpenerAt(ReadOnlySpan<byte> body, out bool partial)
    {
        partial = false;
        foreach (var opener in _openers)
        {
            if (body.StartsWith(opener.Marker))
            {
                return opener;
            }

            partial |= body.Length < opener.Marker.Length && opener.Marker.AsSpan().StartsWith(body);
        }

        return null;
    }

    private int Open(Opener opener)
    {
        if (opener.Format == ReasoningFormats.Harmony)
        {
            // The header starts at the marker itself: a message for a tool is passed on whole, header included.
            _state = State.HarmonyHeader;
            return 0;
        }

        EnterReasoning(opener.Close, opener.Format == ReasoningFormats.Gemma ? State.GemmaText : State.Off, opener.Format);
        return opener.Marker.Length;
    }

    private void EnterReasoning(byte[] close, State after, ReasoningFormats format)
    {
        _close = close;
        _afterReasoning = after;
        _state = State.SkipToReasoning;
        Found ??= format;
    }

    /// <summary>An opening marker at the start of the answer, the form it belongs to and its closing marker.</summary>
    private readonly record struct Opener(byte[] Marker, ReasoningFormats Format, byte[] Close);

    private static Opener[] Openers(ReasoningFormats formats)
    {
        List<Opener> openers = [];
        if ((formats & (ReasoningFormats.Think | ReasoningFormats.ThinkOpen)) != 0)
        {
            openers.Add(new(ReasoningMarkers.ThinkOpen, formats & (ReasoningFormats.Think | ReasoningFormats.ThinkOpen), ReasoningMarkers.ThinkClose));
        }

        if ((formats & ReasoningFormats.Mistral) != 0)
        {
            openers.Add(new(ReasoningMarkers.MistralOpen, ReasoningFormats.Mistral, ReasoningMarkers.MistralClose));
        }

        if ((formats & ReasoningFormats.Seed) != 0)
        {
            openers.Add(new(ReasoningMarkers.SeedOpen, ReasoningFormats.Seed, ReasoningMarkers.SeedClose));
        }

        if ((formats & ReasoningFormats.Gemma) != 0)
        {
            openers.Add(new(ReasoningMarkers.GemmaOpen, ReasoningFormats.Gemma, ReasoningMarkers.GemmaClose));
        }

        if ((formats & ReasoningFormats.Harmony) != 0)
        {
            openers.Add(new(ReasoningMarkers.HarmonyChannel, ReasoningFormats.Harmony, []));
            openers.Add(new(ReasoningMarkers.HarmonyStart, ReasoningFormats.Harmony, []));
        }

        return [.. openers];
    }
}
