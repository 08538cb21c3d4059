using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CopilotProxy.Buffers;
using CopilotProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.ToolCalls;

/// <summary>
/// Turns tool calls that a model wrote into its <em>content</em>, in any enabled <see cref="IToolCallFormat"/>, into
/// structured tool calls, one content delta at a time. One instance per answer (per choice), used only when the request
/// offered tools. It is the one streaming scanner over the start markers of all enabled formats.
/// </summary>
/// <remarks>
/// The content decided as a whole:
/// <code>
///   text* ( marker … block … (whitespace | ```fence)* )+           a marker that counts anywhere; text before it is sent as it arrives
///   ws* (```info\n)? ws* ( start-only marker … block ) (ws | ```)*  JSON, pythonic lists, functools: only at the very start
/// </code>
/// Streaming stays live: content passes through untouched (<see cref="Append(ReadOnlySpan{byte})"/> returns true, no copy)
/// until a byte where a marker could begin. From there the content is held only until the form is decided: the formats
/// sharing the marker parse the held text, and the first that completes yields the calls. Text that turns out not to be a
/// call is released unchanged, byte for byte and in order. A name the request did not offer, invalid arguments, text after
/// a call, or a block cut off by the token limit leave the text alone and log the reason at Information.
/// </remarks>
public sealed partial class ToolCallRepair : IDisposable
{
    private enum State
    {
        /// <summary>Nothing but whitespace so far: a fence or any marker may still start a call.</summary>
        Start,
        /// <summary>In an opening code fence at the start: backticks, then an info string up to the newline.</summary>
        Fence,
        /// <summary>Ordinary text: released as it comes, watching for markers that count anywhere.</summary>
        Text,
        /// <summary>From a marker on: held while the formats sharing it parse.</summary>
        Block,
        /// <summary>After one or more blocks: whitespace, fences or another block may follow.</summary>
        After,
        /// <summary>Decided: everything passes through.</summary>
        Off,
    }

    private static ReadOnlySpan<byte> Whitespace => " \t\r\n"u8;

    private readonly ToolCallFormats _formats;
    private readonly ParsedCalls _parsed;
    private readonly string _model;
    private readonly ILogger _logger;
    private readonly RequestTelemetry? _telemetry;

    // The held content, always a suffix of what was received: _buf[_released.._len]. _buf[0.._released] is what this
    // step releases; it is dropped (compacted) at the start of the next step.
    private byte[] _buf = [];
    private int _len;
    private int _released;
    private int _pos;
    private State _state = State.Start;
    private bool _fenced;
    private int _fenceTicks;
    private bool _fenceInfo;

    private int _blockStart;
    private readonly List<IToolCallFormat> _candidates = [];
    private readonly List<RepairedToolCall> _pending = [];
    private IToolCallFormat? _repairedFormat;
    private RepairedToolCall[] _calls = [];

    /// <param name="tools">The functions the request offered; a call must name one of them.</param>
    /// <param name="model">The model name for the log line when a repair is declined.</param>
    /// <param name="formats">The formats to look for; null means every format (<c>auto</c>).</param>
    /// <param name="telemetry">Where the repaired format's name goes for the request log and the metrics.</param>
    public ToolCallRepair(OfferedTool[] tools, string model, ILogger logger, ToolCallFormats? formats = null, RequestTelemetry? telemetry = null)
    {
        _formats = formats ?? ToolCallFormats.Auto;
        _parsed = new ParsedCalls(tools);
        _model = model;
        _logger = logger;
        _telemetry = telemetry;
    }

    /// <summary>What the current step releases: send it as text in place of the delta's content (it may be empty).</summary>
    public ReadOnlySpan<byte> Released => _buf.AsSpan(0, _released);

    /// <summary>The repaired calls, set by <see cref="Finish"/> when the content was a tool call in text form.</summary>
    public IReadOnlyList<RepairedToolCall> Calls => _calls;

    /// <summary>The format the calls were written in, once <see cref="Calls"/> is set; null otherwise.</summary>
    public string? Format => _calls.Length > 0 ? _repairedFormat?.Name : null;

    /// <summary>False once the content is decided (repaired, declined, stopped): every later delta passes through as it is.</summary>
    public bool Active => _state != State.Off;

    /// <summary>True while content is held back, waiting for the form to be decided.</summary>
    public bool Holding => _len > _released;

    /// <summary>Why the last tool-call-like text was left alone, or null.</summary>
    public ToolCallRepairRejection? Rejection { get; private set; }

    /// <summary>
    /// Takes one content delta (UTF-8, unescaped). Returns true when the delta goes to the client exactly as it came (the
    /// common case; nothing copied); false when the caller must send <see cref="Released"/> in its place.
    /// </summary>
    public bool Append(ReadOnlySpan<byte> content)
    {
        Compact();
        if (_state == State.Off || content.IsEmpty)
        {
            return true;
        }

        // The hot path: plain text with nothing held and no byte any marker starts with needs no copy and no state change.
        if (_state == State.Text && _len == 0 && content.IndexOfAny(_formats.AnywhereFirstBytes) < 0)
        {
            return true;
        }

        var heldBefore = _len;
        Ensure(_len + content.Length);
        content.CopyTo(_buf.AsSpan(_len));
        _len += content.Length;
        Run(final: false);
        return heldBefore == 0 && _released == _len;
    }

    /// <summary>Takes one content delta as it stands in a JSON string token, unescaping it only when it has escapes.</summary>
    public bool Append(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            return Append(reader.ValueSpan);
        }

        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var scratch = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            return Append(scratch.AsSpan(0, reader.CopyString(scratch)));
        }
        finally
        {
            SharedPool.Return(scratch);
        }
    }

    /// <summary>Takes one content delta as its JSON string token stands in the upstream's bytes, quotes included.</summary>
    public bool AppendJsonString(ReadOnlySpan<byte> quoted)
    {
        if (quoted.Length >= 2 && !quoted.Contains((byte)'\\'))
        {
            return Append(quoted[1..^1]);
        }

        var reader = new Utf8JsonReader(quoted);
        reader.Read();
        return Append(ref reader);
    }

    /// <summary>Takes one content delta from a parsed document (a JSON string).</summary>
    public bool Append(JsonElement content)
    {
        var reader = new Utf8JsonReader(JsonMarshal.GetRawUtf8Value(content));
        reader.Read();
        return Append(ref reader);
    }

    /// <summary>Takes one content delta from a typed DTO.</summary>
    public bool Append(string content)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(content.Length));
        try
        {
            return Append(scratch.AsSpan(0, Encoding.UTF8.GetBytes(content, scratch)));
        }
        finally
        {
            SharedPool.Return(scratch);
        }
    }

    /// <summary>
    /// Ends the content: the upstream finished the answer. Afterwards <see cref="Released"/> holds the text still to send and
    /// <see cref="Calls"/> the repaired calls (empty when the content was not a tool call).
    /// </summary>
    /// <param name="truncated">The token limit ended the answer (<c>finish_reason: "length"</c>): an open call is incomplete.</param>
    public void Finish(bool truncated)
    {
        Compact();
        if (_state == State.Block && truncated)
        {
            Decline(new Refusal(ToolCallRepairRejection.Truncated));
            return;
        }

        Run(final: true);
        switch (_state)
        {
            case State.After:
                Accept();
                break;
            case State.Off:
                break;
            default:
                _released = _len;
                _state = State.Off;
                break;
        }
    }

    /// <summary>Gives up without a verdict (the upstream sent real tool calls, or failed): releases what is held and passes the rest through.</summary>
    public void Stop()
    {
        Compact();
        _released = _len;
        _pending.Clear();
        _state = State.Off;
    }

    public void Dispose()
    {
        SharedPool.Return(_buf);
        _buf = [];
    }

    private void Run(bool final)
    {
        while (_state != State.Off)
        {
            var progressed = _state switch
            {
                State.Start => StepStart(final),
                State.Fence => StepFence(),
                State.Text => StepText(final),
                State.Block => StepBlock(final),
                State.After => StepAfter(final),
                _ => false,
            };
            if (!progressed)
            {
                return;
            }
        }
    }
}
