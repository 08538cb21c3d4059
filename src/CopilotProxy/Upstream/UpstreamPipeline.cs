using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace CopilotProxy.Upstream;

/// <summary>The per-event work of a relay or translation, plugged into <see cref="UpstreamPipeline.ReadEventsAsync"/>.</summary>
public interface IUpstreamEventSink
{
    /// <summary>
    /// Handles one event's data (the bytes after <c>data: </c>, lines joined): write what the client should get into the
    /// client's writer, and do not flush: the pipeline flushes before it waits for the upstream again. The span is only
    /// valid during the call.
    /// </summary>
    /// <returns>False when no further event is wanted (<c>[DONE]</c>, an error event); the pipeline then stops reading.</returns>
    bool OnEvent(ReadOnlySpan<byte> data);
}

/// <summary>An upstream answer whose headers arrived: what the pipeline needs to read its body and to name it in errors.</summary>
/// <param name="Upstream">The upstream that answered; names it ("LM Studio" for the default) in messages. Null: "the upstream".</param>
public sealed record UpstreamAnswer(HttpResponseMessage Response, ActivityTimeout Timeout, Uri Url, UpstreamClient? Upstream)
{
    /// <summary>Keeps the body as the upstream wrote it (CAPTURE_BODIES), before any relay rule or repair; null: not captured.</summary>
    public CapturedBody? Capture { get; init; }
}

/// <summary>
/// The one upstream pipeline. Every upstream exchange goes through these steps, each written once:
/// send and wait for headers under the idle timeout (<see cref="UpstreamClient.SendAsync"/>, retried by the router);
/// check the status (<see cref="CheckStatusAsync"/>); read the body as SSE events (<see cref="ReadEventsAsync"/>) or as
/// one JSON body (<see cref="ReadBodyAsync"/>), pushing the idle deadline out on every read; and classify every exception
/// (<see cref="UpstreamFailures.Classify"/>).
/// </summary>
/// <remarks>
/// <para><b>Plugging in per-event work.</b> A relay or translation implements <see cref="IUpstreamEventSink"/> and calls
/// <see cref="ReadEventsAsync"/> with the client's <see cref="PipeWriter"/>. For each upstream read, the pipeline hands
/// every complete event in hand to <see cref="IUpstreamEventSink.OnEvent"/>; it flushes the client when the next read
/// would wait (or after 64 KB): what the upstream delivered at once leaves in one write, and no event waits for the
/// upstream's next one. The loop runs on the thread that completed the upstream read and writes and flushes from there.</para>
/// <para><b>Errors.</b> Nothing here writes an error to the client: every method returns the classified
/// <see cref="UpstreamException"/> (null on success), and the caller, which knows its protocol, writes it: before the
/// first byte as a status with the protocol's error body, after it in band (an SSE <c>error</c> event then <c>[DONE]</c>,
/// or a final NDJSON <c>{"error"}</c> line), or by aborting the connection where the protocol has no in-band error.
/// <see cref="UpstreamFailure.ClientCanceled"/> is returned too, so it is reported, but nobody is left to answer.</para>
/// <para><b>Before the first byte.</b> Work that must happen before the client sees anything (headers, a heartbeat
/// comment while a slow upstream has not answered yet) belongs to the caller between the router's send and
/// <see cref="ReadEventsAsync"/>: nothing in the pipeline writes to the client except the flush after events.</para>
/// </remarks>
public static class UpstreamPipeline
{
    private const int ReadSize = 16 * 1024;

    /// <summary>Events read while the next read is always in hand still leave at least this often.</summary>
    private const int FlushEvery = 64 * 1024;

    /// <summary>Null for a 2xx; otherwise the upstream's error, read (bounded) and normalised.</summary>
    public static async Task<UpstreamException?> CheckStatusAsync(UpstreamAnswer answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return answer.Response.IsSuccessStatusCode ? null : await UpstreamErrors.FromStatusAsync(answer.Response, answer.Url, answer.Upstream, answer.Timeout.Token);
    }

    /// <summary>True when the body is a JSON document rather than an event stream (an upstream that ignored <c>stream:true</c>).</summary>
    public static bool IsJson(HttpResponseMessage response) =>
        response?.Content.Headers.ContentType?.MediaType is "application/json";

    /// <summary>
    /// Reads an SSE body to its end, or until the sink says stop, handing each event to <paramref name="sink"/>. A JSON
    /// body (<see cref="IsJson"/>) is handed over whole, as one event.
    /// </summary>
    /// <param name="client">Flushed before each wait for the upstream, and every 64 KB; null when the answer is aggregated and sent at the end.</param>
    /// <param name="flushed">Called after each flush (the first marks the first token).</param>
    /// <param name="heartbeat">Writes SSE comments to the client while a read waits (STREAM_HEARTBEAT_SECONDS); null: none.</param>
    /// <returns>Null when the body ended or the sink stopped; the classified failure otherwise.</returns>
    public static async Task<UpstreamException?> ReadEventsAsync(UpstreamAnswer answer, IUpstreamEventSink sink, PipeWriter? client, Action? flushed = null,
        SseHeartbeat? heartbeat = null)
    {
        ArgumentNullException.ThrowIfNull(answer);
        ArgumentNullException.ThrowIfNull(sink);
        var timeout = answer.Timeout;
        var stage = client is null ? UpstreamStage.Body : UpstreamStage.Stream;
        if (IsJson(answer.Response))
        {
            var (body, failure) = await ReadBodyAsync(answer, stage);
            using (body)
            {
                if (body is not null)
                {
                    sink.OnEvent(body.WrittenSpan);
                }
            }

            return failure;
        }

        using var events = new SseEventReader();
        try
        {
            await using var stream = await answer.Response.Content.ReadAsStreamAsync(timeout.Token);
            var (written, readSinceFlush) = (false, 0);
            while (true)
            {
                var target = events.GetReadBuffer();
                var pending = stream.ReadAsync(target, timeout.Token);
                if (client is not null && written && (!pending.IsCompleted || readSinceFlush >= FlushEvery))
                {
                    // Events wait for a flush only while the next read is already in hand: a fast upstream's burst
                    // (HttpClient hands a chunked body over 4 KB at a time) leaves in one write, and no token waits
                    // for the upstream. The cap keeps a flood that is always in hand from piling up unsent.
                    if (await FlushAsync(client, flushed, timeout))
                    {
                        // The read still in flight ends when the stream is disposed, which also tells the upstream to stop.
                        return ClientGone(answer);
                    }

                    (written, readSinceFlush) = (false, 0);
                }

                var read = pending.IsCompleted ? pending.Result
                    : heartbeat is null ? await pending
                    : await heartbeat.WaitAsync(pending, timeout.Token);
                var ended = read == 0;
                if (!ended)
                {
                    timeout.Touch();
                    answer.Capture?.Append(target.Span[..read]);
                    events.Advance(read);
                }

                var more = events.Dispatch(sink, ended, out var dispatched);
                written |= dispatched > 0;
                readSinceFlush += read;
                if (ended || !more)
                {
                    return client is not null && written && await FlushAsync(client, flushed, timeout) ? ClientGone(answer) : null;
                }
            }
        }
        catch (Exception ex) when (IsUpstreamFailure(ex))
        {
            return UpstreamFailures.Classify(ex, stage, timeout, answer.Url, answer.Upstream);
        }
    }

    /// <summary>Flushes the events written so far; true when the client is gone.</summary>
    private static async ValueTask<bool> FlushAsync(PipeWriter client, Action? flushed, ActivityTimeout timeout)
    {
        var result = await client.FlushAsync(timeout.Token);
        flushed?.Invoke();
        return result.IsCompleted;
    }

    /// <summary>Reads the whole body under the idle timeout. The caller owns (and disposes) the returned buffer.</summary>
    public static Task<(PooledBufferWriter? Body, UpstreamException? Failure)> ReadBodyAsync(UpstreamAnswer answer) => ReadBodyAsync(answer, UpstreamStage.Body);

    private static async Task<(PooledBufferWriter? Body, UpstreamException? Failure)> ReadBodyAsync(UpstreamAnswer answer, UpstreamStage stage)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var timeout = answer.Timeout;
        var body = new PooledBufferWriter(ReadSize);
        try
        {
            await using var stream = await answer.Response.Content.ReadAsStreamAsync(timeout.Token);
            int read;
            while ((read = await stream.ReadAsync(body.GetMemory(ReadSize), timeout.Token)) > 0)
            {
                answer.Capture?.Append(body.GetMemory(read).Span[..read]);
                body.Advance(read);
                timeout.Touch();
            }

            return (body, null);
        }
        catch (Exception ex) when (IsUpstreamFailure(ex))
        {
            body.Dispose();
            return (null, UpstreamFailures.Classify(ex, stage, timeout, answer.Url, answer.Upstream));
        }
    }

    /// <summary>Reads the whole body and parses it into a document that owns its bytes; unreadable JSON is <see cref="UpstreamFailure.InvalidResponse"/>.</summary>
    public static async Task<(JsonDocument? Document, UpstreamException? Failure)> ReadJsonAsync(UpstreamAnswer answer)
    {
        var (body, failure) = await ReadBodyAsync(answer, UpstreamStage.Body);
        using (body)
        {
            if (body is null)
            {
                return (null, failure);
            }

            try
            {
                return (StrictJson.Parse(body.WrittenSpan), null);
            }
            catch (JsonException ex)
            {
                return (null, UpstreamFailures.Classify(ex, UpstreamStage.Body, answer.Timeout, answer.Url, answer.Upstream));
            }
        }
    }

    /// <summary>Reads the whole body into <typeparamref name="T"/>; unreadable or empty JSON is <see cref="UpstreamFailure.InvalidResponse"/>.</summary>
    public static async Task<(T? Value, UpstreamException? Failure)> ReadJsonAsync<T>(UpstreamAnswer answer, JsonTypeInfo<T> type)
        where T : class
    {
        var (body, failure) = await ReadBodyAsync(answer, UpstreamStage.Body);
        using (body)
        {
            if (body is null)
            {
                return (null, failure);
            }

            try
            {
                return (JsonSerializer.Deserialize(body.WrittenSpan, type) ?? throw new JsonException("The body is JSON null.", null, 0, 0), null);
            }
            catch (JsonException ex)
            {
                return (null, UpstreamFailures.Classify(ex, UpstreamStage.Body, answer.Timeout, answer.Url, answer.Upstream));
            }
        }
    }

    private static bool IsUpstreamFailure(Exception ex) => ex is OperationCanceledException or IOException or HttpRequestException;

    private static UpstreamException ClientGone(UpstreamAnswer answer) =>
        new(UpstreamFailure.ClientCanceled, "The client disconnected before the answer was complete.", answer.Url);
}
