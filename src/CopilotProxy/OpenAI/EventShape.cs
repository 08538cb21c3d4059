using System.Buffers;
using System.Text.Unicode;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The last plain event of one stream, remembered so the next can skip <see cref="PlainEvent.TryScan"/>. An upstream
/// writes every text event of a stream alike: the same bytes before the first choice's text, a different string, the
/// same bytes after it (llama.cpp repeats id, created, model and fingerprint verbatim). An event that is byte-identical
/// to the remembered one outside that string, and whose string is a plain JSON string (no escape, no control
/// character, valid UTF-8), has the same tokens in the same places, so the scan would report the same result with
/// the string's end moved. Anything else (an escape, a new second in <c>created</c>, a finish) takes the full scan,
/// which then remembers that event instead.
/// </summary>
/// <remarks>The check is two memory compares and one vectorised search: about a tenth of the scan (docs/performance.md, round four).</remarks>
/// <param name="anyLayout">As <see cref="PlainEvent.TryScan"/>'s: the caller copies only string values, so whitespace between tokens is allowed.</param>
/// <param name="acceptReasoning">As <see cref="PlainEvent.TryScan"/>'s: reasoning in the delta is accepted and reported.</param>
internal sealed class EventShape(bool anyLayout = false, bool acceptReasoning = false)
{
    private static readonly SearchValues<byte> NotPlainInString = SearchValues.Create(
        [(byte)'"', (byte)'\\', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);

    private byte[] _bytes = [];
    private int _length;
    private int _prefix;
    private int _suffix;
    private PlainEventScan _scan;
    private Varying _varying;

    private enum Varying
    {
        None,
        Content,
        Reasoning,
        AltReasoning,
    }

    /// <summary>
    /// <see cref="PlainEvent.TryScan"/> for the next event of the stream: an event that matches the remembered one skips
    /// the scan; one that does not is scanned and, when the scan accepts it, remembered in its place.
    /// </summary>
    public bool TryScan(ReadOnlySpan<byte> data, out PlainEventScan scan)
    {
        if (TryMatch(data, out scan))
        {
            return true;
        }

        if (!PlainEvent.TryScan(data, out scan, anyLayout, acceptReasoning))
        {
            return false;
        }

        Remember(data, scan);
        return true;
    }

    /// <summary>Matches <paramref name="data"/> against the remembered event; true gives the scan's result for it.</summary>
    public bool TryMatch(ReadOnlySpan<byte> data, out PlainEventScan scan)
    {
        scan = default;
        if (_varying == Varying.None || data.Length < _prefix + _suffix + 2)
        {
            return false;
        }

        var remembered = _bytes.AsSpan(0, _length);
        if (!data.StartsWith(remembered[.._prefix]) || !data.EndsWith(remembered[(remembered.Length - _suffix)..]))
        {
            return false;
        }

        var end = data.Length - _suffix;
        var token = data[_prefix..end];
        if (token.Length < 2 || token[0] != '"' || token[^1] != '"')
        {
            return false;
        }

        var inner = token[1..^1];
        if (inner.IndexOfAny(NotPlainInString) >= 0 || !Utf8.IsValid(inner))
        {
            return false;
        }

        var shift = end - (remembered.Length - _suffix);
        scan = _scan with
        {
            ModelStart = Moved(_scan.ModelStart, shift),
            ModelEnd = Moved(_scan.ModelEnd, shift),
        };
        scan = _varying switch
        {
            Varying.Content => scan with { ContentEnd = end },
            Varying.Reasoning => scan with { Reasoning = (_prefix, end) },
            _ => scan with { AltReasoning = (_prefix, end) },
        };
        return true;
    }

    /// <summary>Remembers an event the full scan accepted, when it is one the next events can be matched against.</summary>
    public void Remember(ReadOnlySpan<byte> data, in PlainEventScan scan)
    {
        _varying = Varying.None;
        if (scan.Choices != 1 || scan.FirstChoiceIrregular || scan.Finish is not null || scan.PromptTokens is not null
            || scan.CompletionTokens is not null || scan.Timings)
        {
            return;
        }

        // Exactly one string varies from event to event; with two, which one moved could not be told.
        var (varying, start, end) = (scan.ContentStart >= 0, scan.Reasoning.Start > 0 && scan.Reasoning.End > 0, scan.AltReasoning.Start > 0 && scan.AltReasoning.End > 0) switch
        {
            (true, false, false) => (Varying.Content, scan.ContentStart, scan.ContentEnd),
            (false, true, false) => (Varying.Reasoning, scan.Reasoning.Start, scan.Reasoning.End),
            (false, false, true) => (Varying.AltReasoning, scan.AltReasoning.Start, scan.AltReasoning.End),
            _ => (Varying.None, 0, 0),
        };
        if (varying == Varying.None)
        {
            return;
        }

        if (_bytes.Length < data.Length)
        {
            _bytes = new byte[Math.Max(data.Length, 2 * _bytes.Length)];
        }

        data.CopyTo(_bytes);
        _length = data.Length;
        _prefix = start;
        _suffix = data.Length - end;
        _scan = scan;
        _varying = varying;
    }

    /// <summary>A position after the varying string moves with its length; one before it stays.</summary>
    private int Moved(int position, int shift) => position >= _prefix ? position + shift : position;
}
