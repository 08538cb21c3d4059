using CopilotProxy.Upstream;

namespace CopilotProxy.Telemetry;

/// <summary>
/// The bodies of one request while it runs, kept only when CAPTURE_BODIES (or message-content tracing) asks: as the
/// client sent it, as it went upstream, the upstream's answer as written (before any repair) and the answer as the client
/// received it. <see cref="CaptureStore"/> keeps them, redacted, once the request ends.
/// </summary>
public sealed class RequestCapture
{
    /// <summary>Most bytes kept of each body; an agent's prompt can be megabytes, and the inspector shows the start.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    public CapturedBody Received { get; } = new(MaxBodyBytes);

    public CapturedBody SentUpstream { get; } = new(MaxBodyBytes);

    public CapturedBody UpstreamAnswer { get; } = new(MaxBodyBytes);
}

/// <summary>A finished request's bodies as the inspector shows them: redacted, images elided to their size.</summary>
public sealed record CapturedExchange(long Id, string Received, string? SentUpstream, string? UpstreamAnswer, string ClientAnswer)
{
    /// <summary>What the four texts weigh in memory (UTF-16), for the store's byte cap.</summary>
    public long Weight => 2L * (Received.Length + (SentUpstream?.Length ?? 0) + (UpstreamAnswer?.Length ?? 0) + ClientAnswer.Length);
}

/// <summary>
/// The last <c>CAPTURE_LIMIT</c> captured exchanges, in memory only and never written anywhere, within a byte cap: the
/// oldest go first when either is reached.
/// </summary>
public sealed class CaptureStore(int limit, long maxBytes)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<CapturedExchange> _exchanges = new();
    private readonly Dictionary<long, LinkedListNode<CapturedExchange>> _byId = [];
    private long _bytes;

    public int Limit => limit;

    public void Add(CapturedExchange exchange)
    {
        lock (_gate)
        {
            _byId[exchange.Id] = _exchanges.AddLast(exchange);
            _bytes += exchange.Weight;
            while (_exchanges.Count > 0 && (_exchanges.Count > limit || _bytes > maxBytes))
            {
                var oldest = _exchanges.First!.Value;
                _exchanges.RemoveFirst();
                _byId.Remove(oldest.Id);
                _bytes -= oldest.Weight;
            }
        }
    }

    public CapturedExchange? Find(long id)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(id, out var node) ? node.Value : null;
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _exchanges.Count;
            }
        }
    }
}
