using System.Diagnostics;
using System.Diagnostics.Metrics;
using CopilotProxy.Upstream;

namespace CopilotProxy.Telemetry;

/// <summary>The proxy's instruments on one <see cref="Meter"/>; <see cref="PrometheusExporter"/> serves them at GET /metrics on the gateway port.</summary>
public sealed class ProxyMetrics
{
    public const string MeterName = "CopilotProxy";

    // Seconds, from a fast local relay (a few ms) to a long agent turn on a slow local model (minutes).
    private static readonly IReadOnlyList<double> LatencyBuckets =
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    private static readonly IReadOnlyList<double> OverheadBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _proxyTime;
    private readonly Histogram<double> _upstreamHeadersTime;
    private readonly Counter<long> _tokens;
    private readonly UpDownCounter<long> _activeStreams;
    private readonly Counter<long> _upstreamFailures;
    private readonly Counter<long> _catalogRefreshes;
    private readonly Counter<long> _toolCallRepairs;
    private readonly Counter<long> _reasoningFromText;

    /// <summary>This app's meter: one per service provider, so the exporter of one proxy never counts another's requests.</summary>
    public Meter Meter { get; }

    public ProxyMetrics(IMeterFactory meterFactory)
    {
        var meter = Meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("copilot_proxy.requests", "{request}", "Requests by front door, route, model, status and initiator (Copilot's X-Initiator: user, agent, other, none).");
        _duration = meter.CreateHistogram("copilot_proxy.request.duration", "s", "Total request time.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _timeToFirstToken = meter.CreateHistogram("copilot_proxy.time_to_first_token", "s", "Time from request start to the first streamed event.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _proxyTime = meter.CreateHistogram("copilot_proxy.proxy.duration", "s", "Proxy time before the upstream call (Server-Timing proxy).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = OverheadBuckets });
        _upstreamHeadersTime = meter.CreateHistogram("copilot_proxy.upstream.headers.duration", "s", "Upstream time to response headers (Server-Timing upstream).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _tokens = meter.CreateCounter<long>("copilot_proxy.tokens", "{token}", "Tokens the upstream reported, by model and direction (input, output).");
        _activeStreams = meter.CreateUpDownCounter<long>("copilot_proxy.active_streams", "{stream}", "Streams being relayed right now.");
        _upstreamFailures = meter.CreateCounter<long>("copilot_proxy.upstream.failures", "{failure}", "Upstream failures by class.");
        _catalogRefreshes = meter.CreateCounter<long>("copilot_proxy.catalog.refreshes", "{refresh}", "Model catalog refreshes by result.");
        _toolCallRepairs = meter.CreateCounter<long>("copilot_proxy.tool_call_repairs", "{call}", "Tool calls a model wrote as text that became structured calls, by model and the format they were written in.");
        _reasoningFromText = meter.CreateCounter<long>("copilot_proxy.reasoning_from_text", "{answer}", "Answers whose reasoning the model wrote as text and the proxy sent as reasoning, by model and format.");
    }

    /// <summary>The label a failure class carries in metrics and the request log.</summary>
    public static string FailureClass(UpstreamFailure failure) => failure switch
    {
        UpstreamFailure.Connect => "connect",
        UpstreamFailure.Timeout => "timeout",
        UpstreamFailure.Status => "status",
        UpstreamFailure.InvalidResponse => "invalid_response",
        UpstreamFailure.MidStream => "mid_stream",
        UpstreamFailure.ClientCanceled => "client_cancelled",
        UpstreamFailure.ShuttingDown => "shutdown",
        _ => failure.ToString().ToLowerInvariant(),
    };

    public void StreamStarted() => _activeStreams.Add(1);

    public void StreamEnded() => _activeStreams.Add(-1);

    public void RecordRequest(string frontDoor, string route, RequestTelemetry telemetry, int status, TimeSpan total)
    {
        var model = telemetry.UpstreamModel ?? "none";
        var tags = new TagList { { "front_door", frontDoor }, { "route", route }, { "model", model }, { "status", status }, { "initiator", telemetry.Initiator } };
        _requests.Add(1, tags);
        _duration.Record(total.TotalSeconds, new TagList { { "front_door", frontDoor }, { "route", route } });
        if (telemetry.TimeToFirstToken is { } ttft)
        {
            _timeToFirstToken.Record(ttft.TotalSeconds, new KeyValuePair<string, object?>("model", model));
        }

        if (telemetry.ProxyTime is { } proxy)
        {
            _proxyTime.Record(proxy.TotalSeconds, new KeyValuePair<string, object?>("front_door", frontDoor));
        }

        if (telemetry.UpstreamHeadersTime is { } upstream)
        {
            _upstreamHeadersTime.Record(upstream.TotalSeconds, new KeyValuePair<string, object?>("model", model));
        }

        if (telemetry.PromptTokens is { } input)
        {
            _tokens.Add(input, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("direction", "input"));
        }

        if (telemetry.CompletionTokens is { } output)
        {
            _tokens.Add(output, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("direction", "output"));
        }

        if (telemetry.RepairedToolCalls > 0)
        {
            _toolCallRepairs.Add(telemetry.RepairedToolCalls, new KeyValuePair<string, object?>("model", model),
                new KeyValuePair<string, object?>("format", telemetry.RepairedFormat ?? "unknown"));
        }

        if (telemetry.ReasoningFromText is { } format)
        {
            _reasoningFromText.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("format", format));
        }

        if (telemetry.Failure is { } failure)
        {
            RecordUpstreamFailure(failure);
        }
    }

    public void RecordUpstreamFailure(UpstreamFailure failure) =>
        _upstreamFailures.Add(1, new KeyValuePair<string, object?>("class", FailureClass(failure)));

    public void RecordCatalogRefresh(bool succeeded) =>
        _catalogRefreshes.Add(1, new KeyValuePair<string, object?>("result", succeeded ? "ok" : "failed"));
}
