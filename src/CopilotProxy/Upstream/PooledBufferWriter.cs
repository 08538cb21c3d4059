using System.Buffers;

namespace CopilotProxy.Upstream;

/// <summary>An <see cref="IBufferWriter{T}"/> over rented arrays, so per-request bodies don't churn the large-object heap.</summary>
public sealed class PooledBufferWriter(int initialCapacity = 4096) : IBufferWriter<byte>, IDisposable
{
    /// <summary>
    /// The largest array given back to the shared pool. The pool keeps what it is given per core for good, so one 10 MB
    /// event would otherwise hold 10 MB (and its doublings on the way up) for the life of the process.
    /// </summary>
    public const int MaxPooledBytes = 1024 * 1024;

    /// <summary>Gives <paramref name="buffer"/> back to the shared pool, or to the garbage collector when it is larger than <see cref="MaxPooledBytes"/>.</summary>
    public static void ReturnBounded(byte[] buffer)
    {
        if (buffer.Length is > 0 and <= MaxPooledBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    private int _written;

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Clear() => _written = 0;

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        ReturnBounded(buffer);
    }

    private void Ensure(int sizeHint)
    {
        var needed = _written + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        ReturnBounded(_buffer);
        _buffer = bigger;
    }
}
