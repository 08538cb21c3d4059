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
/// Only one writer may touch the client at a time. A heartbeat is written only while the relay is awaiting the upstream
/// (its send, or its next read), when the relay itself writes nothing, and only at an event boundary.
/// </remarks>
public sealed class SseHeartbeat(PipeWriter client, TimeSpan interval, TimeProvider time)
{
    /// <summary>The comment line; SSE parsers ignore lines that start with a colon.</summary>
    public static ReadOnlySpan<byte> Comment => ": keep-alive\n\n"u8;

    /// <summary>Heartbeats written so far.</summary>
    public int Sent { get; private set; }

    /// <summary>Called before the first heartbeat when the response has not started yet: commit 200 and the SSE headers.</summary>
    public Func<Task>? BeforeFirst { get; set; }

    /// <summary>False while the last bytes written end mid-event (a raw copy), when a comment would corrupt the event.</summary>
    public bool AtEventBoundary { get; set; } = true;

    /// <summary>Awaits <paramref name="work"/>, writing a heartbeat every interval until it completes.</summary>
    public async Task<T> WhileWaitingAsync<T>(Task<T> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        while (!work.IsCompleted)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var tick = Task.Delay(interval, time, stop.Token);
            if (await Task.WhenAny(work, tick) == work)
            {
                await stop.CancelAsync();
                break;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            if (AtEventBoundary)
            {
                await BeatAsync(cancellationToken);
            }
        }

        return await work;
    }

    /// <summary>A read of the upstream body that heartbeats while it waits; a read that completes at once costs nothing extra.</summary>
    public async ValueTask<int> ReadAsync(Stream upstream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        var read = upstream.ReadAsync(buffer, cancellationToken);
        return read.IsCompleted ? read.Result : await WhileWaitingAsync(read.AsTask(), cancellationToken);
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        if (Sent == 0 && BeforeFirst is { } start)
        {
            await start();
        }

        client.Write(Comment);
        Sent++;
        try
        {
            await client.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone; the relay finds out from its own write or the request's abort token.
        }
    }
}
