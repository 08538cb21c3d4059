using System.Buffers;
using System.IO.Pipelines;

namespace CopilotProxy.Upstream;

/// <summary>
/// SSE comment lines (<c>: keep-alive</c>) written to the client while the upstream is silent: before its headers (a
/// model loading, a long prompt being processed) and between events. Copilot aborts a stream after 2 minutes without a
/// first chunk or 60 seconds of silence (docs/protocol.md §8.1); any bytes reset its timer, and every SSE parser skips comment
/// lines. The upstream's own idle timeout is untouched: heartbeats keep the client waiting, not the upstream.
/// </summary>
/// <remarks>
/// <para>Only one writer may touch the client at a time. A heartbeat is written only while the relay is awaiting the
/// upstream (its send, or its next read), when the relay itself writes nothing, and only at an event boundary; the
/// relay's wait does not end until a heartbeat being written is flushed.</para>
/// <para>One timer serves the whole stream and is moved at most once per interval. Streams wait for the upstream between
/// almost every pair of events, and a timer, a linked token and a WhenAny per wait cost about 10 µs per 32-token
/// stream (docs/performance.md, round four).</para>
/// </remarks>
public sealed class SseHeartbeat(PipeWriter client, TimeSpan interval, TimeProvider time) : IDisposable
{
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private bool _armed;
    private bool _waiting;
    private bool _disposed;
    private long _silentSince;
    private CancellationToken _waitToken;
    private Task _beat = Task.CompletedTask;

    /// <summary>The comment line; SSE parsers ignore lines that start with a colon.</summary>
    public static ReadOnlySpan<byte> Comment => ": keep-alive\n\n"u8;

    /// <summary>Heartbeats written so far.</summary>
    public int Sent { get; private set; }

    /// <summary>Called before the first heartbeat when the response has not started yet: commit 200 and the SSE headers.</summary>
    public Func<Task>? BeforeFirst { get; set; }

    /// <summary>False while the last bytes written end mid-event (a raw copy), when a comment would corrupt the event.</summary>
    public bool AtEventBoundary { get; set; } = true;

    /// <summary>Awaits <paramref name="work"/>, writing a heartbeat after each interval of silence until it completes.</summary>
    public async Task<T> WhileWaitingAsync<T>(Task<T> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (work.IsCompleted)
        {
            return await work;
        }

        BeginWait(cancellationToken);
        try
        {
            return await work;
        }
        finally
        {
            await EndWaitAsync();
        }
    }

    /// <summary>
    /// Awaits a read of the upstream body that the caller started, heartbeating while it waits; a read that completed at
    /// once costs nothing extra. The caller flushes its own writes before it calls this.
    /// </summary>
    public async ValueTask<int> WaitAsync(ValueTask<int> read, CancellationToken cancellationToken)
    {
        if (read.IsCompleted)
        {
            return read.Result;
        }

        BeginWait(cancellationToken);
        try
        {
            return await read;
        }
        finally
        {
            await EndWaitAsync();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _waiting = false;
        }

        _timer?.Dispose();
    }

    private void BeginWait(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _waiting = true;
            _waitToken = cancellationToken;
            _silentSince = time.GetTimestamp();
            if (!_armed)
            {
                _armed = true;
                _timer ??= time.CreateTimer(static state => ((SseHeartbeat)state!).OnTick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _timer.Change(interval, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private Task EndWaitAsync()
    {
        lock (_gate)
        {
            _waiting = false;
            return _beat;
        }
    }

    private void OnTick()
    {
        lock (_gate)
        {
            if (!_waiting || _disposed)
            {
                // The next wait arms the timer again.
                _armed = false;
                return;
            }

            var silent = time.GetElapsedTime(_silentSince);
            if (silent >= interval && AtEventBoundary && _beat.IsCompleted && !_waitToken.IsCancellationRequested)
            {
                _silentSince = time.GetTimestamp();
                _beat = BeatAsync(_waitToken);
                silent = TimeSpan.Zero;
            }

            // Time the next tick for when this wait will have been silent a full interval.
            _timer!.Change(silent < interval ? interval - silent : interval, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (Sent == 0 && BeforeFirst is { } start)
            {
                await start();
            }

            client.Write(Comment);
            Sent++;
            await client.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone; the relay finds out from its own write or the request's abort token.
        }
    }
}
