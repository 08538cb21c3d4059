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

    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public UpstreamFailure? Failure { get; set; }
    public string? FinishReason { get; set; }

    /// <summary>Tool calls the model wrote as text that the relay or translation turned into structured calls (TOOL_CALL_REPAIR).</summary>
    public int RepairedToolCalls { get; private set; }

    public void RecordRepairedToolCalls(int count) => RepairedToolCalls += count;

    /// <summary>The format the repaired calls were written in (docs/models.md), or null when none were repaired.</summary>
    public string? RepairedFormat { get; private set; }

    public void RecordRepairedFormat(string format) => RepairedFormat ??= format;

    /// <summary>The reasoning form (a <c>reasoning_format</c> name) the relay or translation took out of the answer text (REASONING_TAGS); null: none.</summary>
    public string? ReasoningFromText { get; private set; }

    public void RecordReasoningFromText(Configuration.ReasoningFormats? format)
    {
        if (format is { } found)
        {
            ReasoningFromText = Configuration.ReasoningFormatNames.NameOf(found);
        }
    }

    /// <summary>Proxy time before the upstream call: body parsing, model lookup, translation.</summary>
    public TimeSpan? ProxyTime { get; private set; }

    /// <summary>Upstream time from sending the request to its response headers.</summary>
    public TimeSpan? UpstreamHeadersTime { get; private set; }

    /// <summary>Time from request start to the first streamed event the client received.</summary>
    public TimeSpan? TimeToFirstToken { get; private set; }

    public bool Streaming { get; private set; }

    internal long Started => _started;

    /// <summary>Records the Server-Timing split: call with the timestamp taken just before the upstream request was sent.</summary>
    public void MarkUpstreamHeaders(long sentTimestamp)
    {
        ProxyTime = Stopwatch.GetElapsedTime(_started, sentTimestamp);
        UpstreamHeadersTime = Stopwatch.GetElapsedTime(sentTimestamp);
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

    public void MarkFirstToken() => TimeToFirstToken ??= Stopwatch.GetElapsedTime(_started);

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
