using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Http;

/// <summary>
/// The last flush of a streamed answer (its terminator, or the in-band error that ends it), bounded in time.
/// </summary>
/// <remarks>
/// Every other flush of a stream waits on the upstream's idle deadline. This one used to wait on nothing: a client that
/// stopped reading kept the request, and with it the upstream request, until Kestrel's minimum data rate cut the
/// connection 30 s or more later. The chaos drill "clients never read an endless stream" caught it when the error event
/// found the pipe full. What a client has not taken within this time it is not going to take.
/// </remarks>
public static class FinalFlush
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Flushes what is written; a client that is gone or stalled is not an error here: there is nobody left to tell.
    /// True when the client took it all.
    /// </summary>
    public static async Task<bool> TryAsync(PipeWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var deadline = new CancellationTokenSource(Timeout);
        try
        {
            var flushed = await output.FlushAsync(deadline.Token);
            return !flushed.IsCanceled && !flushed.IsCompleted;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // Gone or stalled: the request ends, the upstream request is released, Kestrel closes the connection.
            return false;
        }
    }

    /// <summary>
    /// Flushes a whole answer and, when the client took it, ends the response there (<see cref="EndAsync"/>), so what
    /// the request does after its answer (log line, metrics, an unload after keep_alive 0) no longer delays its end.
    /// </summary>
    public static async Task TryEndAsync(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (await TryAsync(response.BodyWriter))
        {
            await EndAsync(response);
        }
    }

    /// <summary>
    /// Ends a streamed answer that was flushed whole: the client gets the chunked terminator now. Kestrel writes it only
    /// once the whole pipeline has returned, after the request's log line, metrics, dashboard record and the upstream
    /// response's disposal; those ran while every client waited for its answer's last 5 bytes.
    /// </summary>
    public static async Task EndAsync(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        try
        {
            await response.CompleteAsync();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client left after the last flush; Kestrel ends the request as it would have.
        }
    }
}
