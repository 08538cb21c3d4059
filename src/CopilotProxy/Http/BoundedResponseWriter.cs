using System.Buffers;
using System.IO.Pipelines;
using CopilotProxy.Buffers;

namespace CopilotProxy.Http;

/// <summary>
/// The response's writer, minus one trap: asked for a span larger than <see cref="SharedPool.MaxPooledBytes"/> (one
/// event of 10 MB written at once, or the JSON writer's worst case for escaping such a string), Kestrel's pipe rents it
/// from the shared array pool and gives it back there, where it stays. Such a request is served from an array of our
/// own that the garbage collector takes back, and its bytes go to Kestrel block by block.
/// </summary>
internal sealed class BoundedResponseWriter(PipeWriter inner) : PipeWriter
{
    private byte[]? _large;

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        if (sizeHint <= SharedPool.MaxPooledBytes)
        {
            _large = null;
            return inner.GetSpan(sizeHint);
        }

        return _large = GC.AllocateUninitializedArray<byte>(sizeHint);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (sizeHint <= SharedPool.MaxPooledBytes)
        {
            _large = null;
            return inner.GetMemory(sizeHint);
        }

        return _large = GC.AllocateUninitializedArray<byte>(sizeHint);
    }

    public override void Advance(int bytes)
    {
        if (_large is not { } large)
        {
            inner.Advance(bytes);
            return;
        }

        _large = null;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, large.Length);
        // Without a size hint, each span is one of Kestrel's own blocks.
        inner.Write(large.AsSpan(0, bytes));
        SharedPool.LargeReleased();
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(source, cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;
}
