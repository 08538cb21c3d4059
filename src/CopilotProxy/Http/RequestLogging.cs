using System.Diagnostics;
using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>
/// Puts a <see cref="RequestTelemetry"/> on every request, and when the request ends writes its one log line and records its
/// metrics. Under DEBUG_LOGGING it also logs both bodies, redacted.
/// </summary>
public sealed class RequestLogging
{
    /// <summary>Most bytes of a response body DEBUG_LOGGING keeps; the excerpt is cut further by <see cref="Redaction.MaxBodyChars"/>.</summary>
    private const int MaxCapturedBytes = 64 * 1024;

    /// <summary>nginx's "client closed request": the status a request is logged and counted with when its client left before an answer.</summary>
    public const int ClientClosedRequest = 499;

    private readonly RequestDelegate _next;
    private readonly ProxyMetrics _metrics;
    private readonly ShutdownDrain _drain;
    private readonly FrontDoorBindings _bindings;
    private readonly ProxySettings _settings;
    private readonly LiveTraffic _traffic;
    private readonly Redaction _redaction;
    private readonly ILogger _logger;

    public RequestLogging(RequestDelegate next, ProxyMetrics metrics, ShutdownDrain drain, FrontDoorBindings bindings, ProxySettings settings, LiveTraffic traffic,
        ILoggerFactory loggerFactory)
    {
        _next = next;
        _metrics = metrics;
        _drain = drain;
        _bindings = bindings;
        _settings = settings;
        _traffic = traffic;
        _redaction = new Redaction([settings.ApiKey, settings.LmStudioApiKey]);
        _logger = loggerFactory.CreateLogger("CopilotProxy.Requests");
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var telemetry = new RequestTelemetry(started);
        ReadCopilotHeaders(context.Request, telemetry);
        var streamCounted = false;
        telemetry.StreamStarted = () =>
        {
            streamCounted = true;
            _metrics.StreamStarted();
            _drain.StreamStarted();
        };
        context.Features.Set(telemetry);
        // RFC 9110's mark of an intermediary; `copilot-proxy doctor` uses it to tell our ports from another program's.
        context.Response.Headers.Via = Diagnostics.Doctor.ViaValue;

        TimeSpan? timeToFirstByte = null;
        context.Response.OnStarting(() =>
        {
            timeToFirstByte = Stopwatch.GetElapsedTime(started);
            return Task.CompletedTask;
        });

        // The dashboard's own calls and health probes would drown the traffic people want to watch.
        var inFlight = IsHousekeeping(context.Request) ? null
            : _traffic.Start(DoorOf(context), context.Request.Method, context.Request.Path.Value ?? "/", context.Request.Headers.UserAgent, telemetry);

        ResponseCapture? capture = null;
        if (_settings.DebugLogging)
        {
            capture = await BeginDebugCaptureAsync(context);
        }

        try
        {
            await _next(context);
        }
        finally
        {
            if (streamCounted)
            {
                _metrics.StreamEnded();
                _drain.StreamEnded();
            }

            var total = Stopwatch.GetElapsedTime(started);
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? ClientClosedRequest : context.Response.StatusCode;
            if (status == ClientClosedRequest)
            {
                telemetry.Failure ??= Upstream.UpstreamFailure.ClientCanceled;
            }

            var door = DoorOf(context);
            var route = RouteOf(context);
            _metrics.RecordRequest(door, route, telemetry, status, total);
            if (inFlight is not null)
            {
                // Unmatched paths are bounded by the ring, so the dashboard shows what was asked for rather than "unmatched".
                _traffic.Finish(inFlight, door, route == "unmatched" ? inFlight.Path : route, status, total);
            }

            // Health checks, scrapes and the dashboard's polls arrive every few seconds; at Information they would bury the requests people care about.
            var level = IsHousekeeping(context.Request) || route == "/metrics" ? LogLevel.Debug : LogLevel.Information;
            if (_logger.IsEnabled(level))
            {
                double? ttfbMs = timeToFirstByte is { } ttfb ? Math.Round(ttfb.TotalMilliseconds, 2) : null;
                double? ttftMs = telemetry.TimeToFirstToken is { } ttft ? Math.Round(ttft.TotalMilliseconds, 2) : null;
                var totalMs = Math.Round(total.TotalMilliseconds, 2);
                var failureClass = telemetry.Failure is { } failure ? ProxyMetrics.FailureClass(failure) : "none";
                var tokensPerSecond = LiveTraffic.TokensPerSecond(telemetry, total);
                RequestLog.Completed(_logger, level, door, context.Request.Method, route, telemetry.ClientModel ?? "-", telemetry.UpstreamModel ?? "-", status,
                    ttfbMs, ttftMs, tokensPerSecond, totalMs, telemetry.PromptTokens, telemetry.CompletionTokens, failureClass, telemetry.Initiator, telemetry.InteractionId ?? "-",
                    telemetry.RepairedToolCalls, telemetry.RepairedFormat ?? "-", telemetry.ReasoningFromText ?? "-");
            }

            if (capture is not null)
            {
                await capture.CompleteAsync();
                RequestLog.ResponseBody(_logger, context.Request.Method, context.Request.Path, status, Redaction.Headers(context.Response.Headers),
                    _redaction.Body(capture.Captured, capture.TotalBytes));
            }
        }
    }

    /// <summary>Copilot's X-Initiator and X-Interaction-Id (docs/protocol.md §8.1): who sent the request, and which chat turn it belongs to.</summary>
    private static void ReadCopilotHeaders(HttpRequest request, RequestTelemetry telemetry)
    {
        telemetry.Initiator = Initiators.Classify(request.Headers["X-Initiator"].ToString());
        var interaction = request.Headers["X-Interaction-Id"].ToString().Trim();
        if (interaction.Length > 0)
        {
            telemetry.InteractionId = interaction.Length > Initiators.MaxInteractionIdLength ? interaction[..Initiators.MaxInteractionIdLength] : interaction;
        }
    }

    private string DoorOf(HttpContext context) =>
        (context.GetFrontDoor() ?? _bindings.Resolve(context.Connection.LocalPort))?.ToString() ?? "unknown";

    /// <summary>Probes, scrapes and the dashboard's own calls (its page, API and client setups).</summary>
    private static bool IsHousekeeping(HttpRequest request) =>
        request.Path.StartsWithSegments("/health", StringComparison.Ordinal) || request.Path == "/metrics"
        || (request.Path.StartsWithSegments("/ui", StringComparison.Ordinal) && !HttpMethods.IsPost(request.Method))
        || (request.Path == "/clients" && HttpMethods.IsGet(request.Method));

    /// <summary>The route pattern, not the path: paths carry model names and typos, which would explode metrics labels.</summary>
    private static string RouteOf(HttpContext context)
    {
        if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } pattern } && !pattern.Contains("{*", StringComparison.Ordinal))
        {
            return pattern.StartsWith('/') ? pattern : "/" + pattern;
        }

        return "unmatched";
    }

    private async Task<ResponseCapture> BeginDebugCaptureAsync(HttpContext context)
    {
        // Buffer the request so the relay still reads it from the start after we did.
        context.Request.EnableBuffering();
        var body = new byte[MaxCapturedBytes];
        var read = 0;
        int n;
        while (read < body.Length && (n = await context.Request.Body.ReadAsync(body.AsMemory(read), context.RequestAborted)) > 0)
        {
            read += n;
        }

        var total = context.Request.ContentLength ?? read;
        context.Request.Body.Position = 0;
        RequestLog.RequestBody(_logger, context.Request.Method, context.Request.Path, Redaction.Headers(context.Request.Headers),
            read == 0 ? "(empty)" : _redaction.Body(body.AsSpan(0, read), total));

        var original = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var tee = new CaptureStream(original.Stream, MaxCapturedBytes);
        var teeFeature = new StreamResponseBodyFeature(tee, original);
        context.Features.Set<IHttpResponseBodyFeature>(teeFeature);
        return new ResponseCapture(context, original, teeFeature, tee);
    }

    private sealed class ResponseCapture(HttpContext context, IHttpResponseBodyFeature original, StreamResponseBodyFeature teeFeature, CaptureStream tee)
    {
        public ReadOnlySpan<byte> Captured => tee.Captured;

        public long TotalBytes => tee.TotalBytes;

        public async Task CompleteAsync()
        {
            try
            {
                await teeFeature.CompleteAsync();
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
            {
                // The client is gone; nothing left to flush to.
            }

            context.Features.Set(original);
        }
    }
}
