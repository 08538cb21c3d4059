using System.IO.Pipelines;

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

    /// <summary>Flushes what is written; a client that is gone or stalled is not an error here: there is nobody left to tell.</summary>
    public static async Task TryAsync(PipeWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var deadline = new CancellationTokenSource(Timeout);
        try
        {
            await output.FlushAsync(deadline.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // Gone or stalled: the request ends, the upstream request is released, Kestrel closes the connection.
        }
    }
}
