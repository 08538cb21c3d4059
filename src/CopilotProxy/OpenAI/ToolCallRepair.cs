using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Turns tool calls that a model wrote into its <em>content</em> (Qwen/Hermes <c>&lt;tool_call&gt;{…}&lt;/tool_call&gt;</c>
/// blocks, or a bare <c>{"name":…,"arguments":…}</c> object or array) into structured tool calls, one content delta at a
/// time. One instance per answer (per choice), used only when the request offered tools.
/// </summary>
/// <remarks>
/// The forms, decided over the whole content:
/// <code>
///   text* ( &lt;tool_call&gt; json &lt;/tool_call&gt; (whitespace | ```fence)* )+      text before the first block is sent as it arrives
///   ws* (```info\n)? ws* ( {call} | [{call}, …] | &lt;tool_call&gt;… ) (ws | ```)*   only at the very start of the content
/// </code>
/// A call is <c>{"name": one of the request's tools, "arguments"|"parameters": object or JSON string}</c>.
/// Streaming stays live: content passes through untouched (<see cref="Append(ReadOnlySpan{byte})"/> returns true, no copy)
/// until a point where a call could begin: a <c>&lt;</c> that is, or at the end of a delta may become, <c>&lt;tool_call&gt;</c>;
/// or, at the very start, a fence, <c>{</c> or <c>[</c> (and the whitespace before them). From there the content is held
/// only until the form is decided. Text that turns out not to be a call is released unchanged, byte for byte and in order;
/// the concatenation of everything released always equals the content received, unless calls were repaired, in which
/// case only the held call text (and the whitespace and fences around it) is replaced by <see cref="Calls"/>.
/// Invalid JSON, an unknown tool name, text after a call, or a block cut off by the token limit leave the text alone and log
/// the reason at Information. After any such decision the rest of the content passes through.
/// </remarks>
// long-file: one state machine over one held buffer; its states, the incremental JSON scan and the call parsing share
// the buffer's offsets, and splitting them would scatter each transition across files.
public sealed class ToolCallRepair : IDisposable
{
    private enum State
    {
        /// <summary>Nothing but whitespace so far: a fence, <c>{</c>, <c>[</c> or a tag may still start a call.</summary>
        Start,
        /// <summary>In an opening code fence at the start: backticks, then an info string up to the newline.</summary>
        Fence,
        /// <summary>After an opening fence: only whitespace so far.</summary>
        FencedStart,
        /// <summary>Ordinary text: released as it comes, watching for <c>&lt;tool_call&gt;</c>.</summary>
        Text,
        /// <summary>Inside a <c>&lt;tool_call&gt;</c> block, held until its closing tag.</summary>
        Block,
        /// <summary>After one or more valid blocks: whitespace, fences or another block may follow.</summary>
        AfterBlocks,
        /// <summary>Inside a bare JSON object or array at the start, scanned incrementally.</summary>
        Json,
        /// <summary>After the bare JSON: whitespace and a closing fence may follow.</summary>
        AfterJson,
        /// <summary>Decided: everything passes through.</summary>
        Off,
    }

    private static ReadOnlySpan<byte> OpenTag => "<tool_call>"u8;
    private static ReadOnlySpan<byte> CloseTag => "</tool_call>"u8;
    private static ReadOnlySpan<byte> Whitespace => " \t\r\n"u8;

    private readonly string[] _tools;
    private readonly string _model;
    private readonly ILogger _logger;

    // The held content, always a suffix of what was received: _buf[_released.._len]. _buf[0.._released] is what this
    // step releases; it is dropped (compacted) at the start of the next step.
    private byte[] _buf = [];
    private int _len;
    private int _released;
    private int _pos;
    private State _state = State.Start;

    private int _fenceTicks;
    private bool _fenceInfo;
    private int _blockContent;
    private List<RepairedToolCall>? _pending;
    private RepairedToolCall[] _calls = [];

    private JsonReaderState _jsonState;
    private int _jsonStart;
    private int _jsonScanned;
    private int _jsonEnd;
    private bool _jsonArray;
    private bool _expectName;
    private bool _knownNameSeen;

    /// <param name="tools">The names of the functions the request offered; a call must name one of them.</param>
    /// <param name="model">The model name for the log line when a repair is declined.</param>
    public ToolCallRepair(IEnumerable<string> tools, string model, ILogger logger)
    {
        _tools = [.. tools];
        _model = model;
        _logger = logger;
    }

    /// <summary>What the current step releases: send it as text in place of the delta's content (it may be empty).</summary>
    public ReadOnlySpan<byte> Released => _buf.AsSpan(0, _released);

    /// <summary>The repaired calls, set by <see cref="Finish"/> when the content was a tool call in text form.</summary>
    public IReadOnlyList<RepairedToolCall> Calls => _calls;

    /// <summary>The form the repaired calls were written in, for the request inspector: <c>hermes</c> (<c>&lt;tool_call&gt;</c> blocks) or <c>json</c> (bare JSON).</summary>
    public string Format { get; private set; } = "hermes";

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

        // The hot path: plain text with nothing held and no '<' needs no copy and no state change.
        if (_state == State.Text && _len == 0 && !content.Contains((byte)'<'))
        {
            return true;
        }

        var heldBefore = _len;
        Ensure(_len + content.Length);
        content.CopyTo(_buf.AsSpan(_len));
        _len += content.Length;
        Run();
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
            ArrayPool<byte>.Shared.Return(scratch);
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
            ArrayPool<byte>.Shared.Return(scratch);
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
        switch (_state)
        {
            case State.Block:
                Decline(truncated ? ToolCallRepairRejection.Truncated : ToolCallRepairRejection.Unclosed, null);
                break;
            case State.Json:
                Decline(truncated ? ToolCallRepairRejection.Truncated
                    : _knownNameSeen ? ToolCallRepairRejection.InvalidJson : ToolCallRepairRejection.NotAToolCall, null);
                break;
            case State.AfterBlocks:
                Accept();
                break;
            case State.AfterJson:
                var calls = new List<RepairedToolCall>();
                var (rejection, name) = ParseCalls(_buf.AsSpan(_jsonStart, _jsonEnd - _jsonStart), calls);
                if (rejection is { } r)
                {
                    Decline(r, name);
                }
                else
                {
                    _pending = calls;
                    Accept();
                }

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
        _pending = null;
        _state = State.Off;
    }

    public void Dispose()
    {
        if (_buf.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buf);
            _buf = [];
        }
    }

    private void Run()
    {
        while (_pos < _len && _state != State.Off)
        {
            switch (_state)
            {
                case State.Start:
                case State.FencedStart:
                    if (!StepStart())
                    {
                        return;
                    }

                    break;
                case State.Fence:
                    StepFence();
                    break;
                case State.Text:
                    if (!StepText())
                    {
                        return;
                    }

                    break;
                case State.Block:
                    if (!StepBlock())
                    {
                        return;
                    }

                    break;
                case State.AfterBlocks:
                case State.AfterJson:
                    if (!StepAfter())
                    {
                        return;
                    }

                    break;
                case State.Json:
                    if (!StepJson())
                    {
                        return;
                    }

                    break;
            }
        }
    }

    /// <returns>False when more content is needed to decide.</returns>
    private bool StepStart()
    {
        var b = _buf[_pos];
        if (Whitespace.Contains(b))
        {
            _pos++;
            return true;
        }

        if (b is (byte)'{' or (byte)'[')
        {
            _state = State.Json;
            _jsonStart = _pos;
            _jsonScanned = _pos;
            _jsonState = default;
            return true;
        }

        if (b == (byte)'`' && _state == State.Start)
        {
            _state = State.Fence;
            return true;
        }

        if (b == (byte)'<')
        {
            switch (MatchOpenTag(_pos))
            {
                case Match.Full:
                    EnterBlock(_pos);
                    return true;
                case Match.Partial:
                    return false;
            }
        }

        if (_state == State.FencedStart)
        {
            Decline(ToolCallRepairRejection.NotAToolCall, null);
        }
        else
        {
            _state = State.Text;
        }

        return true;
    }

    private void StepFence()
    {
        var b = _buf[_pos];
        if (!_fenceInfo && b == (byte)'`')
        {
            _fenceTicks++;
            _pos++;
            return;
        }

        if (_fenceTicks < 3)
        {
            Decline(ToolCallRepairRejection.NotAToolCall, null);
            return;
        }

        if (b == (byte)'\n')
        {
            _state = State.FencedStart;
            _pos++;
            return;
        }

        _fenceInfo = true;
        if (b is (byte)'\r' or (byte)'-' or (byte)'_' or (byte)'+' || char.IsAsciiLetterOrDigit((char)b))
        {
            _pos++;
            return;
        }

        Decline(ToolCallRepairRejection.NotAToolCall, null);
    }

    private bool StepText()
    {
        var found = _buf.AsSpan(_pos, _len - _pos).IndexOf((byte)'<');
        if (found < 0)
        {
            _pos = _len;
            _released = _len;
            return false;
        }

        var at = _pos + found;
        switch (MatchOpenTag(at))
        {
            case Match.Full:
                _released = at;
                EnterBlock(at);
                return true;
            case Match.Partial:
                // A possible tag at the end of the delta: release the text before it, hold the rest until it is decided.
                _released = at;
                _pos = at;
                return false;
            default:
                _pos = at + 1;
                return true;
        }
    }

    private void EnterBlock(int tagStart)
    {
        _state = State.Block;
        _blockContent = tagStart + OpenTag.Length;
        _pos = _blockContent;
    }

    private bool StepBlock()
    {
        var found = _buf.AsSpan(_pos, _len - _pos).IndexOf(CloseTag);
        if (found < 0)
        {
            // Rescan only the tail that could hold the start of a closing tag split across deltas.
            _pos = Math.Max(_pos, _len - CloseTag.Length + 1);
            return false;
        }

        var end = _pos + found;
        _pending ??= [];
        var (rejection, name) = ParseCalls(_buf.AsSpan(_blockContent, end - _blockContent).Trim(Whitespace), _pending);
        if (rejection is { } r)
        {
            Decline(r == ToolCallRepairRejection.NotAToolCall ? ToolCallRepairRejection.InvalidJson : r, name);
            return true;
        }

        _state = State.AfterBlocks;
        _fenceInfo = false;
        _pos = end + CloseTag.Length;
        return true;
    }

    /// <summary>After the calls only whitespace, fences (with an info string) and, after blocks, more blocks may follow.</summary>
    private bool StepAfter()
    {
        var b = _buf[_pos];
        if (Whitespace.Contains(b))
        {
            _fenceInfo = false;
            _pos++;
            return true;
        }

        if (b == (byte)'`')
        {
            _fenceInfo = true;
            _pos++;
            return true;
        }

        if (_fenceInfo && char.IsAsciiLetterOrDigit((char)b))
        {
            _pos++;
            return true;
        }

        if (b == (byte)'<' && _state == State.AfterBlocks)
        {
            switch (MatchOpenTag(_pos))
            {
                case Match.Full:
                    EnterBlock(_pos);
                    return true;
                case Match.Partial:
                    return false;
            }
        }

        Decline(ToolCallRepairRejection.TextAfterCall, null);
        return true;
    }

    /// <summary>
    /// Scans the bare JSON incrementally, so an answer that merely starts with <c>{</c> or <c>[</c> (a JSON answer, a markdown
    /// link) is released as soon as it can't be a call: a syntax error, a key other than name/arguments/parameters, or a
    /// name that is not one of the request's tools.
    /// </summary>
    private bool StepJson()
    {
        var reader = new Utf8JsonReader(_buf.AsSpan(_jsonScanned, _len - _jsonScanned), isFinalBlock: false, _jsonState);
        try
        {
            while (reader.Read())
            {
                var callDepth = _jsonArray ? 1 : 0;
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartArray when reader.CurrentDepth == 0:
                        _jsonArray = true;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray when reader.CurrentDepth == 0:
                        _jsonEnd = _jsonScanned + (int)reader.BytesConsumed;
                        _pos = _jsonEnd;
                        _state = State.AfterJson;
                        _fenceInfo = false;
                        return true;
                    case JsonTokenType.StartObject or JsonTokenType.EndObject when reader.CurrentDepth == callDepth:
                        break;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == callDepth + 1:
                        _expectName = reader.ValueTextEquals("name"u8);
                        if (!_expectName && !reader.ValueTextEquals("arguments"u8) && !reader.ValueTextEquals("parameters"u8))
                        {
                            Decline(ToolCallRepairRejection.NotAToolCall, null);
                            return true;
                        }

                        break;
                    case JsonTokenType.String when _expectName && reader.CurrentDepth == callDepth + 1:
                        _expectName = false;
                        if (!IsKnownTool(ref reader))
                        {
                            Decline(ToolCallRepairRejection.UnknownTool, reader.GetString());
                            return true;
                        }

                        _knownNameSeen = true;
                        break;
                    default:
                        if (reader.CurrentDepth <= callDepth || _expectName)
                        {
                            // A scalar where a call object or its name belongs.
                            Decline(ToolCallRepairRejection.NotAToolCall, null);
                            return true;
                        }

                        break;
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: the reader unescaped a name or string holding half of a surrogate pair
            // ("\ud800"), which no tool name or argument object can be; the text stays text.
            Decline(_knownNameSeen ? ToolCallRepairRejection.InvalidJson : ToolCallRepairRejection.NotAToolCall, null);
            return true;
        }

        _jsonScanned += (int)reader.BytesConsumed;
        _jsonState = reader.CurrentState;
        _pos = _len;
        return false;
    }

    private bool IsKnownTool(ref Utf8JsonReader reader)
    {
        foreach (var tool in _tools)
        {
            if (reader.ValueTextEquals(tool))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads one call object, or an array of them, into <paramref name="calls"/>; on failure says why and which name.</summary>
    private (ToolCallRepairRejection? Rejection, string? Name) ParseCalls(ReadOnlySpan<byte> json, List<RepairedToolCall> calls)
    {
        JsonDocument document;
        try
        {
            StrictJson.Validate(json);
            var reader = new Utf8JsonReader(json);
            document = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed != json.Length)
            {
                document.Dispose();
                return (ToolCallRepairRejection.InvalidJson, null);
            }
        }
        catch (JsonException)
        {
            return (ToolCallRepairRejection.InvalidJson, null);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                return ParseCall(root, calls);
            }

            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
            {
                return (ToolCallRepairRejection.NotAToolCall, null);
            }

            foreach (var element in root.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Object)
                {
                    return (ToolCallRepairRejection.NotAToolCall, null);
                }

                if (ParseCall(element, calls) is { Rejection: not null } failed)
                {
                    return failed;
                }
            }

            return (null, null);
        }
    }

    private (ToolCallRepairRejection? Rejection, string? Name) ParseCall(JsonElement call, List<RepairedToolCall> calls)
    {
        if (!call.TryGetProperty("name"u8, out var nameElement) || nameElement.ValueKind != JsonValueKind.String)
        {
            return (ToolCallRepairRejection.MissingName, null);
        }

        var name = nameElement.GetString()!;
        if (Array.IndexOf(_tools, name) < 0)
        {
            return (ToolCallRepairRejection.UnknownTool, name);
        }

        if (!call.TryGetProperty("arguments"u8, out var arguments))
        {
            call.TryGetProperty("parameters"u8, out arguments);
        }

        string text;
        switch (arguments.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                text = "{}";
                break;
            case JsonValueKind.Object:
                text = arguments.GetRawText();
                break;
            case JsonValueKind.String:
                // OpenAI's own shape: the arguments already as a JSON string. It must hold an object, or clients fail to parse it.
                text = arguments.GetString()!;
                if (text.Length == 0)
                {
                    text = "{}";
                }
                else if (!IsJsonObject(text))
                {
                    return (ToolCallRepairRejection.InvalidJson, name);
                }

                break;
            default:
                return (ToolCallRepairRejection.InvalidJson, name);
        }

        calls.Add(new RepairedToolCall(OpenAIChunk.NewToolCallId(), name, text));
        return (null, null);
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var document = StrictJson.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private void Accept()
    {
        Format = _state == State.AfterJson ? "json" : "hermes";
        _calls = _pending is { Count: > 0 } pending ? [.. pending] : [];
        _pending = null;
        _state = State.Off;
        if (_calls.Length == 0)
        {
            _released = _len;
            return;
        }

        // The held text was the calls (and the whitespace and fences around them); the calls replace it.
        _released = 0;
        _len = 0;
        _pos = 0;
        ToolCallRepairLog.Repaired(_logger, _calls.Length, _model);
    }

    private void Decline(ToolCallRepairRejection rejection, string? name)
    {
        Rejection = rejection;
        _released = _len;
        _pending = null;
        _state = State.Off;
        if (rejection == ToolCallRepairRejection.NotAToolCall)
        {
            return;
        }

        var reason = rejection switch
        {
            ToolCallRepairRejection.InvalidJson => "the JSON in it is not valid" + (name is null ? "" : $" (tool {name})"),
            ToolCallRepairRejection.UnknownTool => $"it names the tool \"{name}\", which is not one of the request's tools",
            ToolCallRepairRejection.MissingName => "it has no \"name\"",
            ToolCallRepairRejection.Unclosed => "the <tool_call> block was never closed",
            ToolCallRepairRejection.Truncated => "the answer was cut off by the token limit (finish_reason length) inside the call",
            _ => "text follows the call",
        };
        ToolCallRepairLog.Declined(_logger, _model, reason);
    }

    private enum Match
    {
        Mismatch,
        Partial,
        Full,
    }

    private Match MatchOpenTag(int at)
    {
        var available = Math.Min(OpenTag.Length, _len - at);
        if (!_buf.AsSpan(at, available).SequenceEqual(OpenTag[..available]))
        {
            return Match.Mismatch;
        }

        return available < OpenTag.Length ? Match.Partial : Match.Full;
    }

    /// <summary>Drops what the previous step released, so the held suffix starts at 0.</summary>
    private void Compact()
    {
        if (_released == 0)
        {
            return;
        }

        _buf.AsSpan(_released, _len - _released).CopyTo(_buf);
        _len -= _released;
        _pos -= _released;
        _blockContent -= _released;
        _jsonStart -= _released;
        _jsonScanned -= _released;
        _jsonEnd -= _released;
        _released = 0;
    }

    private void Ensure(int capacity)
    {
        if (_buf.Length >= capacity)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, Math.Max(256, _buf.Length * 2)));
        _buf.AsSpan(0, _len).CopyTo(bigger);
        if (_buf.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buf);
        }

        _buf = bigger;
    }
}

/// <summary>Tool-call repair log lines; event ids 11xx.</summary>
internal static partial class ToolCallRepairLog
{
    [LoggerMessage(1100, LogLevel.Information, "Tool-call repair: {Model} wrote what looks like a tool call as text, passed through as text because {Reason}")]
    public static partial void Declined(ILogger logger, string model, string reason);

    [LoggerMessage(1101, LogLevel.Debug, "Tool-call repair: {Count} tool call(s) that {Model} wrote as text became structured tool calls")]
    public static partial void Repaired(ILogger logger, int count, string model);
}
