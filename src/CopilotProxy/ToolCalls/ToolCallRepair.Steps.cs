using CopilotProxy.Buffers;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.ToolCalls;

/// <summary>The scanner's steps: each returns false when more content is needed to decide.</summary>
public sealed partial class ToolCallRepair
{
    private bool StepStart(bool final)
    {
        if (_pos >= _len)
        {
            return false;
        }

        var b = _buf[_pos];
        if (Whitespace.Contains(b))
        {
            _pos++;
            return true;
        }

        if (b == (byte)'`' && !_fenced)
        {
            _state = State.Fence;
            return true;
        }

        switch (_formats.Match(_buf.AsSpan(_pos, _len - _pos), atStart: true, final, _candidates))
        {
            case MarkerMatch.Partial:
                return false;
            case MarkerMatch.Full:
                EnterBlock(_pos);
                return true;
        }

        if (_fenced)
        {
            // A code block that holds no call: the code stays code.
            Decline(new Refusal(ToolCallRepairRejection.NotAToolCall));
        }
        else
        {
            _state = State.Text;
        }

        return true;
    }

    private bool StepFence()
    {
        if (_pos >= _len)
        {
            return false;
        }

        var b = _buf[_pos];
        if (!_fenceInfo && b == (byte)'`')
        {
            _fenceTicks++;
            _pos++;
            return true;
        }

        if (_fenceTicks < 3)
        {
            Decline(new Refusal(ToolCallRepairRejection.NotAToolCall));
            return true;
        }

        if (b == (byte)'\n')
        {
            _state = State.Start;
            _fenced = true;
            _fenceInfo = false;
            _pos++;
            return true;
        }

        _fenceInfo = true;
        if (b is (byte)'\r' or (byte)'-' or (byte)'_' or (byte)'+' || char.IsAsciiLetterOrDigit((char)b))
        {
            _pos++;
            return true;
        }

        Decline(new Refusal(ToolCallRepairRejection.NotAToolCall));
        return true;
    }

    private bool StepText(bool final)
    {
        var found = _buf.AsSpan(_pos, _len - _pos).IndexOfAny(_formats.AnywhereFirstBytes);
        if (found < 0)
        {
            _pos = _len;
            _released = _len;
            return false;
        }

        var at = _pos + found;
        switch (_formats.Match(_buf.AsSpan(at, _len - at), atStart: false, final, _candidates))
        {
            case MarkerMatch.Full:
                _released = at;
                EnterBlock(at);
                return true;
            case MarkerMatch.Partial:
                // A possible marker at the end of the delta: release the text before it, hold the rest until it is decided.
                _released = at;
                _pos = at;
                return false;
            default:
                _pos = at + 1;
                return true;
        }
    }

    private void EnterBlock(int at)
    {
        _blockStart = at;
        _pos = at;
        _state = State.Block;
    }

    private bool StepBlock(bool final)
    {
        var text = _buf.AsSpan(_blockStart, _len - _blockStart);
        Refusal? refusal = null;
        for (var i = 0; i < _candidates.Count;)
        {
            var format = _candidates[i];
            _parsed.Clear();
            var parse = format.Parse(text, final, _parsed);
            switch (parse.Status)
            {
                case ParseStatus.Done:
                    _pending.AddRange(_parsed.Calls);
                    _repairedFormat ??= format;
                    _candidates.Clear();
                    _pos = _blockStart + parse.Length;
                    _state = State.After;
                    _fenceInfo = false;
                    return true;
                case ParseStatus.NeedMore when !final:
                    i++;
                    continue;
                case ParseStatus.NeedMore:
                    refusal ??= new Refusal(ToolCallRepairRejection.Unclosed);
                    break;
                case ParseStatus.Refused:
                    refusal ??= parse.Refusal;
                    break;
            }

            _candidates.RemoveAt(i);
        }

        if (_candidates.Count > 0)
        {
            return false;
        }

        if (refusal is { } refused)
        {
            Decline(refused);
        }
        else if (_pending.Count > 0)
        {
            Decline(new Refusal(ToolCallRepairRejection.TextAfterCall));
        }
        else if (_fenced)
        {
            Decline(new Refusal(ToolCallRepairRejection.NotAToolCall));
        }
        else
        {
            // No format takes it (a markdown link, a tag named in prose): it is text, and a later marker may still count.
            Rejection = ToolCallRepairRejection.NotAToolCall;
            _state = State.Text;
            _pos = _blockStart + 1;
        }

        return true;
    }

    /// <summary>After the calls only whitespace, fences (with an info string) and more blocks may follow.</summary>
    private bool StepAfter(bool final)
    {
        if (_pos >= _len)
        {
            return false;
        }

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

        switch (_formats.Match(_buf.AsSpan(_pos, _len - _pos), atStart: false, final, _candidates))
        {
            case MarkerMatch.Partial:
                return false;
            case MarkerMatch.Full:
                EnterBlock(_pos);
                return true;
        }

        Decline(new Refusal(ToolCallRepairRejection.TextAfterCall));
        return true;
    }

    private void Accept()
    {
        _calls = [.. _pending];
        _pending.Clear();
        _state = State.Off;
        if (_calls.Length == 0)
        {
            _released = _len;
            return;
        }

        // The held text was the calls (and the whitespace and fences around them); the calls replace it. Text released
        // before the first block in this same step still goes out.
        _len = _released;
        _pos = _released;
        var format = _repairedFormat!.Name;
        _telemetry?.RecordRepairedFormat(format);
        ToolCallRepairLog.Repaired(_logger, _calls.Length, _model, format);
    }

    private void Decline(Refusal refusal)
    {
        Rejection = refusal.Reason;
        _released = _len;
        _pending.Clear();
        _candidates.Clear();
        _state = State.Off;
        if (refusal.Reason == ToolCallRepairRejection.NotAToolCall)
        {
            return;
        }

        var name = refusal.Name;
        var reason = refusal.Reason switch
        {
            ToolCallRepairRejection.InvalidJson => "its arguments are not valid" + (name is null ? "" : $" (tool {name})"),
            ToolCallRepairRejection.InvalidArguments => $"an argument of tool {name} does not fit the type its JSON schema gives it",
            ToolCallRepairRejection.UnknownTool => $"it names the tool \"{name}\", which is not one of the request's tools",
            ToolCallRepairRejection.MissingName => "it has no \"name\"",
            ToolCallRepairRejection.Unclosed => "the block was never closed",
            ToolCallRepairRejection.Truncated => "the answer was cut off by the token limit (finish_reason length) inside the call",
            _ => "text follows the call",
        };
        ToolCallRepairLog.Declined(_logger, _model, reason);
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
        _blockStart -= _released;
        _released = 0;
    }

    private void Ensure(int capacity)
    {
        if (_buf.Length >= capacity)
        {
            return;
        }

        var bigger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(capacity, Math.Max(256, _buf.Length * 2)));
        _buf.AsSpan(0, _len).CopyTo(bigger);
        SharedPool.Return(_buf);

        _buf = bigger;
    }
}

/// <summary>Tool-call repair log lines; event ids 11xx.</summary>
internal static partial class ToolCallRepairLog
{
    [LoggerMessage(1100, LogLevel.Information, "Tool-call repair: {Model} wrote what looks like a tool call as text, passed through as text because {Reason}")]
    public static partial void Declined(ILogger logger, string model, string reason);

    [LoggerMessage(1101, LogLevel.Debug, "Tool-call repair: {Count} tool call(s) that {Model} wrote as text in the {Format} format became structured tool calls")]
    public static partial void Repaired(ILogger logger, int count, string model, string format);
}
