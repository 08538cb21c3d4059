using System.Diagnostics;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Telemetry;

/// <summary>
/// What one request did, as the request log line and the metrics report it. The request logging middleware puts one on
/// every request's features; relays (OpenAI and Ollama alike) fill in what only they know.
/// </summary>
public sealed class RequestTelemetry
{
    private readonly long _started;

    public RequestTelemetry(long started) => _started = started;

    public string? ClientModel { get; set; }

    /// <summary>The upstream model key the request was sent for; set only once the model catalog resolved it, so metrics labels stay bounded.</summary>
    public string? UpstreamModel { get; set; }

    /// <summary>Copilot's <c>X-Initiator</c>, reduced to <see cref="Initiators"/>: whether a person or the agent loop sent the request.</summary>
    public string Initiator { get; set; } = Initiators.None;

    /// <summary>Copilot's <c>X-Interaction-Id</c>: ties the requests of one chat turn together in the log.</summary>
    public string? InteractionId { get; set; }

    /// <summary>The client's whole User-Agent, for the request inspector (the request list shows only its first token).</summary>
    public string? UserAgent { get; set; }

    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public UpstreamFailure? Failure { get; set; }

    /// <summary>The failure as it was reported (FailureReporting): what went wrong and how to fix it.</summary>
    public string? FailureMessage { get; set; }

    public string? FinishReason { get; set; }

    /// <summary>Tool calls the model wrote as text that the relay or translation turned into structured calls (TOOL_CALL_REPAIR).</summary>
    public int RepairedToolCalls { get; private set; }

    /// <summary>The format the repaired calls were written in (docs/models.md), or null when none were repaired.</summary>
    public string? RepairedFormat { get; private set; }

    public void RecordRepairedFormat(string format) => RepairedFormat ??= format;

    /// <summary>Counts repaired calls; their format is the one the repair itself recorded (<see cref="RecordRepairedFormat"/>).</summary>
    public void RecordRepairedToolCalls(int count)
    {
        if (count <= 0)
        {
            return;
        }

        RepairedToolCalls += count;
        var format = RepairedFormat;
        AddChange(new ProxyChange(ProxyChangeKind.ToolCallsRepaired, $"{count} tool call{(count == 1 ? "" : "s")} written as {format ?? "text"} became structured calls",
            format ?? "text", count));
    }

    private List<ProxyChange>? _changes;

    /// <summary>What the proxy changed, in the order it happened (the request inspector's list).</summary>
    public IReadOnlyList<ProxyChange> Changes => _changes ?? (IReadOnlyList<ProxyChange>)[];

    /// <summary>Records one change; any component that alters the request or its answer adds one (from the request's own flow: no lock).</summary>
    public void AddChange(ProxyChange change) => (_changes ??= []).Add(change);

    /// <summary>The upstream URL the answer came from (no user info), for the inspector and "copy as curl".</summary>
    public string? UpstreamUrl { get; set; }

    /// <summary>How long loading the model took before the request could go (null: no load).</summary>
    public TimeSpan? ModelLoad { get; set; }

    /// <summary>How long the request waited in a queue before it was sent (null: no queue, or no wait).</summary>
    public TimeSpan? QueueWait { get; set; }

    /// <summary>The client's W3C <c>traceparent</c>, sent on upstream when the proxy has no span of its own.</summary>
    public string? ClientTraceParent { get; set; }

    /// <summary>The request's server span when tracing is on; upstream attempts are its children.</summary>
    public Activity? Span { get; set; }

    /// <summary>The bodies of this request, when CAPTURE_BODIES (or message-content tracing) asks for them.</summary>
    public RequestCapture? Capture { get; set; }

    /// <summary>Time from request start until the upstream request was sent (null: never sent).</summary>
    public TimeSpan? UpstreamSentTime => _upstreamSent is { } sent ? Stopwatch.GetElapsedTime(_started, sent) : null;

    /// <summary>Time from request start to the upstream's response headers.</summary>
    public TimeSpan? UpstreamHeadersAt => _headersAt is { } at ? Stopwatch.GetElapsedTime(_started, at) : null;

    /// <summary>Time from request start to the last streamed flush the client received.</summary>
    public TimeSpan? LastTokenTime => _lastToken is { } last ? Stopwatch.GetElapsedTime(_started, last) : null;

    private long? _upstreamSent;
    private long? _headersAt;
    private long? _lastToken;

    /// <summary>The reasoning form (a <c>reasoning_format</c> name) the relay or translation took out of the answer text (REASONING_TAGS); null: none.</summary>
    public string? ReasoningFromText { get; private set; }

    /// <summary>Records the form reasoning was written in, and the inspector's change line, once per request.</summary>
    public void RecordReasoningFromText(Configuration.ReasoningFormats? format)
    {
        if (format is not { } found || ReasoningFromText is not null)
        {
            return;
        }

        ReasoningFromText = Configuration.ReasoningFormatNames.NameOf(found);
        AddChange(new ProxyChange(ProxyChangeKind.ReasoningMoved, $"reasoning written as {ReasoningFromText} text moved into the reasoning field", ReasoningFromText));
    }

    /// <summary>Proxy time before the upstream call: body parsing, model lookup, translation.</summary>
    public TimeSpan? ProxyTime { get; private set; }

    /// <summary>Upstream time from sending the request to its response headers.</summary>
    public TimeSpan? UpstreamHeadersTime { get; private set; }

    /// <summary>Time from request start to the first streamed event the client received.</summary>
    public TimeSpan? TimeToFirstToken { get; private set; }

    public bool Streaming { get; private set; }

    internal long Started => _started;

    /// <summary>
    /// Marks the moment the router sent the attempt that answered, after any queue wait, model load and failed attempt:
    /// the inspector's "sent upstream". The relays' own mark (<see cref="MarkUpstreamHeaders"/>) is taken before all of
    /// those, and stays the Server-Timing split the metrics keep.
    /// </summary>
    public void MarkAttemptSent(long timestamp) => _upstreamSent = timestamp;

    /// <summary>Records the Server-Timing split: call with the timestamp taken just before the upstream request was sent.</summary>
    public void MarkUpstreamHeaders(long sentTimestamp)
    {
        var now = Stopwatch.GetTimestamp();
        _upstreamSent ??= sentTimestamp;
        _headersAt = now;
        ProxyTime = Stopwatch.GetElapsedTime(_started, sentTimestamp);
        UpstreamHeadersTime = Stopwatch.GetElapsedTime(sentTimestamp, now);
    }

    /// <summary>Marks the response as a stream; counted in the active-streams gauge until the request ends.</summary>
    public void MarkStreaming()
    {
        if (!Streaming)
        {
            Streaming = true;
            StreamStarted?.Invoke();
        }
    }

    /// <summary>Called after each streamed flush: the first marks the first token, the last one the last token.</summary>
    public void MarkFirstToken()
    {
        var now = Stopwatch.GetTimestamp();
        TimeToFirstToken ??= Stopwatch.GetElapsedTime(_started, now);
        _lastToken = now;
    }

    /// <summary>Copies what a relay saw at the end of a stream.</summary>
    public void Record(UpstreamFailure? failure, string? finishReason, int? promptTokens, int? completionTokens)
    {
        Failure ??= failure;
        FinishReason ??= finishReason;
        PromptTokens ??= promptTokens;
        CompletionTokens ??= completionTokens;
    }

    internal Action? StreamStarted { get; set; }
}

/// <summary>The values of Copilot's <c>X-Initiator</c> header the proxy tells apart; anything else is "other", so metrics labels stay bounded.</summary>
public static class Initiators
{
    public const string User = "user";
    public const string Agent = "agent";
    public const string Other = "other";
    public const string None = "none";

    /// <summary>Longest <c>X-Interaction-Id</c> kept for the log line; Copilot's are UUIDs, anything longer is cut.</summary>
    public const int MaxInteractionIdLength = 64;

    public static string Classify(string? header) => header switch
    {
        null or "" => None,
        _ when header.Equals(User, StringComparison.OrdinalIgnoreCase) => User,
        _ when header.Equals(Agent, StringComparison.OrdinalIgnoreCase) => Agent,
        _ => Other,
    };
}

public static class RequestTelemetryExtensions
{
    /// <summary>The request's telemetry; created on first use when the middleware is not in the pipeline (then it is never logged).</summary>
    public static RequestTelemetry GetRequestTelemetry(this HttpContext context)
    {
        if (context.Features.Get<RequestTelemetry>() is { } telemetry)
        {
            return telemetry;
        }

        telemetry = new RequestTelemetry(Stopwatch.GetTimestamp());
        context.Features.Set(telemetry);
        return telemetry;
    }
}
