using System.Buffers;
using System.Text;
using System.Text.Unicode;
using CopilotProxy.Buffers;

namespace CopilotProxy.Upstream;

/// <summary>
/// Splits an upstream body into server-sent events (the WHATWG rules: lines end in LF, CRLF or CR; <c>data:</c> lines
/// of one event are joined with LF; a blank line dispatches; comments and other fields are skipped) over one growing
/// buffer, so every event already in hand after a read can be handed out before the single flush that follows.
/// </summary>
/// <remarks>
/// An event whose data is one line (every upstream we know sends exactly that) is handed out as a slice of the read
/// buffer: no copy. The buffer grows to hold the largest event, and shrinks back once that event is gone, so one huge
/// event (a 10 MB base64 image echoed back) does not pin its buffer for the rest of the stream or in the shared pool.
/// </remarks>
internal sealed class SseEventReader : IDisposable
{
    private const int InitialSize = 16 * 1024;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _event;
    private int _line;
    private int _searched;
    private int _end;
    private bool _skipLf;
    private bool _hasData;
    private int _dataStart;
    private int _dataLength;
    private PooledBufferWriter? _joined;

    /// <summary>Where the next read goes; never empty.</summary>
    public Memory<byte> GetReadBuffer()
    {
        if (_end == _buffer.Length)
        {
            // Compacting in place only pays when it frees a good part of the buffer; otherwise a big event would be copied over and over.
            if (_event >= _buffer.Length / 2)
            {
                Compact(_buffer);
            }
            else
            {
                var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                Compact(bigger);
            }
        }

        return _buffer.AsMemory(_end);
    }

    public void Advance(int read) => _end += read;

    /// <summary>Hands every complete event in the buffer to <paramref name="sink"/>; false once the sink asked to stop.</summary>
    /// <param name="endOfBody">True after the last read: an unterminated last line and an undispatched event still count, so nothing the upstream sent is lost.</param>
    public bool Dispatch(IUpstreamEventSink sink, bool endOfBody, out int dispatched)
    {
        dispatched = 0;
        while (true)
        {
            if (_skipLf && _line < _end)
            {
                _skipLf = false;
                if (_buffer[_line] == (byte)'\n')
                {
                    _line++;
                    _searched = _line;
                    if (!_hasData)
                    {
                        _event = _line;
                    }
                }
            }

            var from = Math.Max(_line, _searched);
            var found = _buffer.AsSpan(from, _end - from).IndexOfAny((byte)'\r', (byte)'\n');
            int lineEnd, next;
            if (found >= 0)
            {
                lineEnd = from + found;
                next = lineEnd + 1;
                if (_buffer[lineEnd] == (byte)'\r')
                {
                    if (next < _end)
                    {
                        next += _buffer[next] == (byte)'\n' ? 1 : 0;
                    }
                    else
                    {
                        _skipLf = true;
                    }
                }
            }
            else if (endOfBody && _line < _end)
            {
                lineEnd = next = _end;
            }
            else
            {
                _searched = _end;
                break;
            }

            var lineStart = _line;
            _line = _searched = next;
            if (lineEnd == lineStart)
            {
                if (_hasData)
                {
                    dispatched++;
                    if (!DispatchEvent(sink))
                    {
                        return false;
                    }
                }

                _event = _line;
                continue;
            }

            AddField(lineStart, lineEnd);
            if (!_hasData)
            {
                _event = _line;
            }
        }

        if (endOfBody && _hasData)
        {
            dispatched++;
            return DispatchEvent(sink);
        }

        ShrinkIfIdle();
        return true;
    }

    public void Dispose()
    {
        SharedPool.Return(_buffer);
        _buffer = [];
        _joined?.Dispose();
    }

    private void AddField(int start, int end)
    {
        var line = _buffer.AsSpan(start, end - start);
        if (line[0] == (byte)':' || !line.StartsWith("data"u8) || (line.Length > 4 && line[4] != (byte)':'))
        {
            // A comment (": keep-alive"), or event:/id:/retry: lines, which no OpenAI-compatible relay acts on.
            return;
        }

        var valueStart = start + Math.Min(line.Length, 5);
        if (valueStart < end && _buffer[valueStart] == (byte)' ')
        {
            valueStart++;
        }

        if (!_hasData)
        {
            _hasData = true;
            _dataStart = valueStart;
            _dataLength = end - valueStart;
            return;
        }

        // A second data line in one event: rare enough to pay for a copy.
        if (_joined is null || _joined.WrittenSpan.IsEmpty)
        {
            _joined ??= new PooledBufferWriter();
            _joined.Write(_buffer.AsSpan(_dataStart, _dataLength));
        }

        _joined.Write("\n"u8);
        _joined.Write(_buffer.AsSpan(valueStart, end - valueStart));
    }

    private bool DispatchEvent(IUpstreamEventSink sink)
    {
        var joined = _joined is { WrittenSpan.IsEmpty: false };
        var data = joined ? _joined!.WrittenSpan : _buffer.AsSpan(_dataStart, _dataLength);
        _hasData = false;
        bool more;
        if (Utf8.IsValid(data))
        {
            more = sink.OnEvent(data);
        }
        else
        {
            // A model server may cut a multi-byte character between two tokens. Relayed as is, the client's JSON parser
            // throws and the whole answer is lost; U+FFFD in its place loses one character, as a browser would.
            using var repaired = new PooledBufferWriter(data.Length + 16);
            ReplaceInvalidUtf8(data, repaired);
            more = sink.OnEvent(repaired.WrittenSpan);
        }

        if (joined)
        {
            _joined!.Clear();
        }

        return more;
    }

    private static void ReplaceInvalidUtf8(ReadOnlySpan<byte> data, PooledBufferWriter output)
    {
        while (!data.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(data, out var rune, out var consumed);
            var target = output.GetSpan(4);
            // DecodeFromUtf8 yields U+FFFD for the maximal invalid subsequence, as the Unicode standard recommends.
            var written = (status == OperationStatus.Done ? rune : Rune.ReplacementChar).EncodeToUtf8(target);
            output.Advance(written);
            data = data[consumed..];
        }
    }

    /// <summary>Moves the undispatched event to the front of <paramref name="target"/> (the buffer itself, or a bigger one).</summary>
    private void Compact(byte[] target)
    {
        var shift = _event;
        _buffer.AsSpan(_event, _end - _event).CopyTo(target);
        if (!ReferenceEquals(target, _buffer))
        {
            SharedPool.Return(_buffer);
            _buffer = target;
        }

        _event = 0;
        _line -= shift;
        _searched -= shift;
        _end -= shift;
        _dataStart -= shift;
    }

    /// <summary>After a large event is gone, trades the large buffer back for a small one.</summary>
    private void ShrinkIfIdle()
    {
        if (_buffer.Length > InitialSize * 4 && _end - _event <= InitialSize / 2)
        {
            Compact(ArrayPool<byte>.Shared.Rent(InitialSize));
        }
    }
}
