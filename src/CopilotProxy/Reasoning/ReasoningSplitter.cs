using System.Buffers;
using CopilotProxy.Buffers;
using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Reasoning;

/// <summary>What one content delta became.</summary>
public enum ReasoningStep
{
    /// <summary>The delta is answer text exactly as it came (the common case; nothing copied).</summary>
    Content,

    /// <summary>The delta is reasoning exactly as it came (nothing copied, no marker in it).</summary>
    Reasoning,

    /// <summary>The delta was split, held or stripped: send <see cref="ReasoningSplitter.Part"/> 0..<see cref="ReasoningSplitter.PartCount"/> in its place, in order.</summary>
    Parts,
}

/// <summary>
/// Takes reasoning a model wrote into its answer text out of it, one content delta at a time: <c>&lt;think&gt;…&lt;/think&gt;</c>,
/// <c>[THINK]…[/THINK]</c>, <c>&lt;seed:think&gt;…</c>, gpt-oss harmony channels and Gemma 4's thought channel (see
/// <see cref="ReasoningFormats"/>). One instance per answer.
/// </summary>
/// <remarks>
/// Streaming stays live. At the start of the answer, whitespace and the beginning of an opening marker are held until the
/// next byte decides; anything else is text and, for the tag forms, decides the whole answer (<c>&lt;think&gt;</c> later in
/// prose is text). Inside reasoning, text is released as reasoning as it comes, holding only what may begin the closing
/// marker. Released text is the input byte for byte, except the markers (and the whitespace right after an opening or
/// closing marker), which are dropped. A stream that ends inside the reasoning ends it there: held bytes keep their side.
/// </remarks>
public sealed partial class ReasoningSplitter : IDisposable
{
    private enum State
    {
        /// <summary>Only whitespace so far: an opening marker may still come.</summary>
        Start,
        /// <summary>After an opening marker: whitespace is dropped, then the reasoning begins.</summary>
        SkipToReasoning,
        /// <summary>Reasoning, up to <see cref="_close"/>.</summary>
        Reasoning,
        /// <summary>After a closing marker: whitespace is dropped, then <see cref="_afterReasoning"/>.</summary>
        SkipToText,
        /// <summary>Answer text of a Gemma stream: another thought block may open.</summary>
        GemmaText,
        /// <summary>Answer text that decided the tag forms off; a bare closing tag only earns a hint in the log.</summary>
        Plain,
        HarmonyHeader,
        HarmonyReasoning,
        HarmonyText,
        /// <summary>A harmony message for a tool (a recipient, or a channel the proxy does not know): left as it is.</summary>
        HarmonyPassthrough,
        /// <summary>Decided: everything is answer text.</summary>
        Off,
    }

    private readonly ReasoningFormats _formats;
    private readonly string _model;
    private readonly ILogger? _logger;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ReasoningFormats, Opener[]> OpenersByFormats = new();
    private readonly Opener[] _openers;
    private State _state = State.Start;
    private byte[] _close = [];
    private State _afterReasoning = State.Off;

    // Held input: _held[0.._heldLength]. A step appends the new delta and leaves only what is still undecided.
    private byte[] _held = [];
    private int _heldLength;

    // What the current step releases: _out[0.._outLength], cut into parts of one kind each.
    private byte[] _out = [];
    private int _outLength;
    private (bool Reasoning, int Start, int Length)[] _parts = new (bool, int, int)[4];

    /// <param name="formats">The forms to look for; <see cref="ReasoningFormats.None"/> makes every delta pass.</param>
    /// <param name="model">The model name, for the log.</param>
    public ReasoningSplitter(ReasoningFormats formats, string model = "", ILogger? logger = null)
    {
        _formats = formats;
        _model = model;
        _logger = logger;
        // One splitter per answer: its openers (a list and an array) are built once per setting, not per request.
        _openers = OpenersByFormats.GetOrAdd(formats, Openers);
        if (formats == ReasoningFormats.None)
        {
            _state = State.Off;
        }
    }

    /// <summary>False once the answer is decided to hold no more reasoning: every later delta is text as it is.</summary>
    public bool Active => _state != State.Off;

    /// <summary>True while bytes are held back, waiting for the next delta to decide them.</summary>
    public bool Holding => _heldLength > 0;

    /// <summary>How many parts the last step released.</summary>
    public int PartCount { get; private set; }

    /// <summary>The form found, once reasoning was taken out of the text or a marker stripped (for the request log and metrics); else null.</summary>
    public ReasoningFormats? Found { get; private set; }

    /// <summary>One part of what the last step released: text of one kind, in order.</summary>
    public ReadOnlySpan<byte> Part(int index, out bool reasoning)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)PartCount);
        var (isReasoning, start, length) = _parts[index];
        reasoning = isReasoning;
        return _out.AsSpan(start, length);
    }

    /// <summary>Takes one content delta (UTF-8, unescaped) and says what it became.</summary>
    public ReasoningStep Append(ReadOnlySpan<byte> content)
    {
        PartCount = 0;
        _outLength = 0;
        if (_state == State.Off || content.IsEmpty)
        {
            return ReasoningStep.Content;
        }

        // The hot paths: nothing held and no byte that could start a marker.
        if (_heldLength == 0)
        {
            // An answer that cannot open with a marker is decided on the spot, without holding a copy of its first delta
            // (which may be one huge event).
            if (_state == State.Start && !MayOpen(content))
            {
                StepStart(content);
            }

            switch (_state)
            {
                case State.Plain:
                    if (content.IndexOf(ReasoningMarkers.ThinkClose) >= 0)
                    {
                        // The closing tag with no opening one: the template wrote <think> into the prompt. Text already went out as
                        // text, so only the log can say how to fix it.
                        if (_logger is not null)
                        {
                            ReasoningLog.ClosingTagOnly(_logger, _model);
                        }

                        _state = State.Off;
                    }

                    return ReasoningStep.Content;
                case State.Reasoning or State.HarmonyReasoning when content.IndexOfAny(ReasoningMarkers.Starts) < 0:
                    return ReasoningStep.Reasoning;
                case State.GemmaText or State.HarmonyText or State.HarmonyPassthrough when content.IndexOfAny(ReasoningMarkers.Starts) < 0:
                    return ReasoningStep.Content;
                default:
                    break;
            }
        }

        var fresh = _heldLength == 0;
        Ensure(ref _held, _heldLength + content.Length);
        content.CopyTo(_held.AsSpan(_heldLength));
        _heldLength += content.Length;
        Run();
        // A delta that was only held to look at (an answer opening with whitespace, as most do) and came out whole, of one
        // kind: the caller may pass it on as it came instead of rewriting its event (a parse and a write, ~5 µs).
        if (fresh && _heldLength == 0 && PartCount == 1 && _parts[0].Length == content.Length)
        {
            PartCount = 0;
            _outLength = 0;
            return _parts[0].Reasoning ? ReasoningStep.Reasoning : ReasoningStep.Content;
        }

        return ReasoningStep.Parts;
    }

    /// <summary>
    /// The answer's text is complete (the upstream finished, sent its own reasoning or tool calls, or failed): what was held
    /// is released on the side it was on, and every later delta passes as text.
    /// </summary>
    /// <returns>True when something was released (see <see cref="Part"/>).</returns>
    public bool Finish()
    {
        PartCount = 0;
        _outLength = 0;
        var held = _held.AsSpan(0, _heldLength);
        switch (_state)
        {
            case State.Start when _formats == ReasoningFormats.ThinkOpen:
            case State.Reasoning or State.HarmonyReasoning or State.SkipToReasoning:
                Emit(true, held.TrimStart(ReasoningMarkers.Whitespace));
                break;
            default:
                Emit(false, held);
                break;
        }

        _heldLength = 0;
        _state = State.Off;
        return PartCount > 0;
    }

    public void Dispose()
    {
        SharedPool.Return(_held);
        _held = [];
        SharedPool.Return(_out);
        _out = [];
    }

    /// <summary>Runs the states over the held bytes until they are all released or the rest must wait for more.</summary>
    private void Run()
    {
        var at = 0;
        while (at < _heldLength && Step(_held.AsSpan(at, _heldLength - at)) is var used and >= 0)
        {
            at += used;
        }

        _held.AsSpan(at, _heldLength - at).CopyTo(_held);
        _heldLength -= at;
    }

    /// <summary>One state's work on <paramref name="text"/>: how many bytes it used, or -1 when the rest must wait.</summary>
    private int Step(ReadOnlySpan<byte> text) => _state switch
    {
        State.Start => StepStart(text),
        State.SkipToReasoning or State.SkipToText => StepSkip(text),
        State.Reasoning => StepReasoning(text),
        State.GemmaText => StepGemmaText(text),
        State.HarmonyHeader => StepHarmonyHeader(text),
        State.HarmonyReasoning => StepHarmonyReasoning(text),
        State.HarmonyText => StepHarmonyText(text),
        State.HarmonyPassthrough => StepHarmonyPassthrough(text),
        State.Plain => StepPlain(text),
        _ => EmitAll(false, text),
    };

    private int StepSkip(ReadOnlySpan<byte> text)
    {
        var body = text.TrimStart(ReasoningMarkers.Whitespace);
        if (!body.IsEmpty)
        {
            _state = _state == State.SkipToReasoning ? State.Reasoning : _afterReasoning;
        }

        return text.Length - body.Length;
    }

    private int StepReasoning(ReadOnlySpan<byte> text)
    {
        var (index, _, whole) = ReasoningMarkers.Find(text, [_close]);
        if (index < 0)
        {
            return EmitAll(true, text);
        }

        Emit(true, text[..index]);
        if (!whole)
        {
            return index == 0 ? -1 : index;
        }

        _state = State.SkipToText;
        return index + _close.Length;
    }

    private int StepGemmaText(ReadOnlySpan<byte> text)
    {
        var (index, _, whole) = ReasoningMarkers.Find(text, [ReasoningMarkers.GemmaOpen]);
        if (index < 0)
        {
            return EmitAll(false, text);
        }

        Emit(false, text[..index]);
        if (!whole)
        {
            return index == 0 ? -1 : index;
        }

        EnterReasoning(ReasoningMarkers.GemmaClose, State.GemmaText, ReasoningFormats.Gemma);
        return index + ReasoningMarkers.GemmaOpen.Length;
    }

    private int StepPlain(ReadOnlySpan<byte> text)
    {
        if (text.IndexOf(ReasoningMarkers.ThinkClose) >= 0 && _logger is not null)
        {
            ReasoningLog.ClosingTagOnly(_logger, _model);
            _state = State.Off;
        }

        return EmitAll(false, text);
    }

    private int EmitAll(bool reasoning, ReadOnlySpan<byte> text)
    {
        Emit(reasoning, text);
        return text.Length;
    }

    /// <summary>Adds released text to this step's parts, joining it to the last part when that is of the same kind.</summary>
    private void Emit(bool reasoning, ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        Ensure(ref _out, _outLength + text.Length);
        text.CopyTo(_out.AsSpan(_outLength));
        if (PartCount > 0 && _parts[PartCount - 1].Reasoning == reasoning)
        {
            _parts[PartCount - 1].Length += text.Length;
        }
        else
        {
            if (PartCount == _parts.Length)
            {
                Array.Resize(ref _parts, PartCount * 2);
            }

            _parts[PartCount++] = (reasoning, _outLength, text.Length);
        }

        _outLength += text.Length;
    }

    private static void Ensure(ref byte[] buffer, int size)
    {
        if (buffer.Length >= size)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(size, 256));
        buffer.CopyTo(larger, 0);
        SharedPool.Return(buffer);

        buffer = larger;
    }
}
