namespace CopilotProxy.Http;

/// <summary>A write-through stream that keeps the first bytes written, for DEBUG_LOGGING's response bodies.</summary>
internal sealed class CaptureStream(Stream inner, int maxCaptured) : Stream
{
    private readonly byte[] _captured = new byte[maxCaptured];
    private int _capturedLength;

    public ReadOnlySpan<byte> Captured => _captured.AsSpan(0, _capturedLength);

    public long TotalBytes { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Keep(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Keep(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Keep(ReadOnlySpan<byte> data)
    {
        TotalBytes += data.Length;
        var room = _captured.Length - _capturedLength;
        if (room > 0)
        {
            var take = Math.Min(room, data.Length);
            data[..take].CopyTo(_captured.AsSpan(_capturedLength));
            _capturedLength += take;
        }
    }
}
