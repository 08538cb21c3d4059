namespace CopilotProxy.Upstream;

/// <summary>The first bytes of one body, up to a cap, and how many there were in all (CAPTURE_BODIES; the pipeline fills the upstream's answer).</summary>
public sealed class CapturedBody(int maxBytes)
{
    private byte[] _bytes = [];
    private int _length;

    public ReadOnlySpan<byte> Bytes => _bytes.AsSpan(0, _length);

    public long TotalBytes { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        TotalBytes += data.Length;
        var take = Math.Min(maxBytes - _length, data.Length);
        if (take <= 0)
        {
            return;
        }

        if (_length + take > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Min(maxBytes, Math.Max(_length + take, _bytes.Length * 2)));
        }

        data[..take].CopyTo(_bytes.AsSpan(_length));
        _length += take;
    }

    /// <summary>Starts over: a retried request is captured as sent on its last attempt.</summary>
    public void Reset()
    {
        _length = 0;
        TotalBytes = 0;
    }
}
