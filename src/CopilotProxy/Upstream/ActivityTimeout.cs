namespace CopilotProxy.Upstream;

/// <summary>
/// A cancellation source that fires when the client aborts, when the upstream stays silent longer than the idle timeout,
/// or when the proxy's graceful drain runs out.
/// </summary>
/// <remarks>
/// A total timeout would kill long, healthy generations; an idle timeout only kills silence. Each successful read calls
/// <see cref="Touch"/> to push the deadline out again (the idea behind YARP's ActivityCancellationTokenSource).
/// </remarks>
public sealed class ActivityTimeout : IDisposable
{
    private const long TouchGranularityMs = 250;

    private readonly CancellationTokenSource _source;
    private readonly TimeSpan _idle;
    private readonly CancellationToken _clientAborted;
    private long _lastReset = Environment.TickCount64;
    private readonly CancellationToken _drainExpired;

    /// <param name="idle">Longest tolerated silence from the upstream.</param>
    /// <param name="clientAborted">The client's <c>RequestAborted</c>.</param>
    /// <param name="drainExpired">Fires when GRACEFUL_SHUTDOWN_TIMEOUT ran out during shutdown (<c>ShutdownDrain.Expired</c>).</param>
    public ActivityTimeout(TimeSpan idle, CancellationToken clientAborted, CancellationToken drainExpired = default)
    {
        _idle = idle;
        _clientAborted = clientAborted;
        _drainExpired = drainExpired;
        _source = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, drainExpired);
        _source.CancelAfter(idle);
    }

    public CancellationToken Token => _source.Token;

    public bool ClientAborted => _clientAborted.IsCancellationRequested;

    /// <summary>The proxy is shutting down and the drain deadline passed; the client is still there to be told.</summary>
    public bool DrainExpired => _drainExpired.IsCancellationRequested && !ClientAborted;

    public TimeSpan Idle => _idle;

    /// <summary>
    /// Pushes the deadline out. Resetting a timer takes the timer queue's lock, and streams call this for every token, so the
    /// reset happens at most every 250 ms: the timeout (a second at the least) may then fire up to 250 ms early, never late.
    /// </summary>
    public void Touch()
    {
        var now = Environment.TickCount64;
        if (now - _lastReset >= TouchGranularityMs)
        {
            _lastReset = now;
            _source.CancelAfter(_idle);
        }
    }

    public void Dispose() => _source.Dispose();
}
