namespace CopilotProxy.Telemetry;

/// <summary>When things happened, in milliseconds from the moment the proxy received the request; null: it did not happen.</summary>
/// <param name="UpstreamSentMs">The request went upstream (after any model load and queue wait).</param>
/// <param name="UpstreamHeadersMs">The upstream's response headers arrived.</param>
/// <param name="FirstTokenMs">The client received the first streamed bytes of the answer.</param>
/// <param name="LastTokenMs">The client received the last streamed bytes.</param>
/// <param name="ModelLoadMs">How long loading the model took (a part of the time before <paramref name="UpstreamSentMs"/>).</param>
/// <param name="QueueWaitMs">How long the request waited in a queue (likewise).</param>
public sealed record InspectionTiming(double? UpstreamSentMs, double? UpstreamHeadersMs, double? FirstTokenMs, double? LastTokenMs, double TotalMs,
    double? ModelLoadMs, double? QueueWaitMs);

/// <summary>Everything the request inspector shows about one finished request except its bodies (those are in <see cref="CaptureStore"/>).</summary>
public sealed record RequestInspection(
    long Id,
    DateTimeOffset ReceivedAt,
    DateTimeOffset FinishedAt,
    string FrontDoor,
    string Method,
    string Route,
    string Path,
    string? UserAgent,
    string Initiator,
    string? InteractionId,
    string? ClientModel,
    string? UpstreamModel,
    string? UpstreamUrl,
    int Status,
    bool Streaming,
    InspectionTiming Timing,
    int? PromptTokens,
    int? CompletionTokens,
    string? FinishReason,
    IReadOnlyList<ProxyChange> Changes,
    string? Failure,
    string? FailureMessage,
    string? TraceId)
{
    /// <summary>Longest User-Agent kept; real clients' are well under it.</summary>
    private const int MaxUserAgentLength = 256;

    public static RequestInspection From(InFlightRequest request, FinishedRequest finished, TimeSpan total)
    {
        var telemetry = request.Telemetry;
        var userAgent = telemetry.UserAgent is { Length: > MaxUserAgentLength } ua ? ua[..MaxUserAgentLength] : telemetry.UserAgent;
        return new RequestInspection(
            request.Id, request.StartedAt, finished.FinishedAt, finished.FrontDoor, request.Method, finished.Route, request.Path, userAgent,
            telemetry.Initiator, telemetry.InteractionId, telemetry.ClientModel, telemetry.UpstreamModel, telemetry.UpstreamUrl, finished.Status, telemetry.Streaming,
            new InspectionTiming(Ms(telemetry.UpstreamSentTime), Ms(telemetry.UpstreamHeadersAt), Ms(telemetry.TimeToFirstToken), Ms(telemetry.LastTokenTime),
                Math.Round(total.TotalMilliseconds, 1), Ms(telemetry.ModelLoad), Ms(telemetry.QueueWait)),
            telemetry.PromptTokens, telemetry.CompletionTokens, telemetry.FinishReason, ChangesOf(telemetry), finished.Failure, telemetry.FailureMessage,
            telemetry.Span?.TraceId.ToHexString());
    }

    /// <summary>The changes components recorded, after the one every relay makes implicitly: the model name, when it went upstream as another.</summary>
    private static List<ProxyChange> ChangesOf(RequestTelemetry telemetry)
    {
        var changes = new List<ProxyChange>(telemetry.Changes.Count + 1);
        if (telemetry is { ClientModel: { } asked, UpstreamModel: { } sent } && !string.Equals(asked, sent, StringComparison.Ordinal))
        {
            changes.Add(new ProxyChange(ProxyChangeKind.ModelRenamed, $"{asked} → {sent}"));
        }

        changes.AddRange(telemetry.Changes);
        return changes;
    }

    private static double? Ms(TimeSpan? time) => time is { } t ? Math.Round(t.TotalMilliseconds, 1) : null;
}
