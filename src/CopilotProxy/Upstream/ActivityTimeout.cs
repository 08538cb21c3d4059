namespace CopilotProxy.Upstream;

/// <summary>
/// A cancellation source that fires when the client aborts or when the upstream stays silent longer than the idle timeout.
/// </summary>
/// <remarks>
/// A total timeout would kill long, healthy generations; an idle timeout only kills silence. Each successful read calls
/// <see cref="Touch"/> to push the deadline out again (the idea behind YARP's ActivityCancellationTokenSource).
/// </remarks>
public sealed class ActivityTimeout : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly TimeSpan _idle;
    private readonly CancellationToken _clientAborted;

    public ActivityTimeout(TimeSpan idle, CancellationToken clientAborted)
    {
        _idle = idle;
        _clientAborted = clientAborted;
        _source = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        _source.CancelAfter(idle);
    }

    public CancellationToken Token => _source.Token;

    public bool ClientAborted => _clientAborted.IsCancellationRequested;

    public TimeSpan Idle => _idle;

    public void Touch() => _source.CancelAfter(_idle);

    public void Dispose() => _source.Dispose();
}
