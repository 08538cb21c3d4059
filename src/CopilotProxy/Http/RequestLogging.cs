using System.Diagnostics;
using CopilotProxy.Buffers;
using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>
/// Puts a <see cref="RequestTelemetry"/> on every request, and when the request ends writes its one log line, records its
/// metrics, hands it to the dashboard's request list and ends its server span (when tracing is on). Under DEBUG_LOGGING it
/// also logs both bodies, redacted; under CAPTURE_BODIES it keeps them for the request inspector.
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
    private readonly CaptureStore _captures;
    private readonly ILogger _logger;

    public RequestLogging(RequestDelegate next, ProxyMetrics metrics, ShutdownDrain drain, FrontDoorBindings bindings, ProxySettings settings, LiveTraffic traffic,
        CaptureStore captures, ILoggerFactory loggerFactory)
    {
        _captures = captures;
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
        var housekeeping = IsHousekeeping(context.Request);
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
        var inFlight = housekeeping ? null
            : _traffic.Start(DoorOf(context), context.Request.Method, context.Request.Path.Value ?? "/", context.Request.Headers.UserAgent, telemetry);
        var span = housekeeping ? null : RequestTracing.StartServer(context.Request, telemetry);

        ResponseCapture? capture = null;
        var keepBodies = !housekeeping && (_settings.CaptureBodies || (span is not null && _settings.TraceMessageContent));
        if (_settings.DebugLogging || keepBodies)
        {
            if (keepBodies)
            {
                telemetry.Capture = new RequestCapture();
            }

            capture = await BeginCaptureAsync(context, telemetry.Capture);
        }

        if (!housekeeping)
        {
            SharedPool.RequestStarted();
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

            if (!housekeeping)
            {
                SharedPool.RequestEnded();
            }

            var total = Stopwatch.GetElapsedTime(started);
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? ClientClosedRequest : context.Response.StatusCode;
            if (status == ClientClosedRequest)
            {
                telemetry.Failure ??= Upstream.UpstreamFailure.ClientCanceled;
            }

            // Kept before the request shows among the finished ones, so a click on it finds its bodies.
            if (capture is not null)
            {
                await capture.CompleteAsync();
                if (inFlight is not null && telemetry.Capture is { } bodies)
                {
                    KeepCapture(inFlight.Id, bodies, capture, span);
                }
            }

            var door = DoorOf(context);
            var route = RouteOf(context);
            _metrics.RecordRequest(door, route, telemetry, status, total);
            if (inFlight is not null)
            {
                // Unmatched paths are bounded by the ring, so the dashboard shows what was asked for rather than "unmatched".
                _traffic.Finish(inFlight, door, route == "unmatched" ? inFlight.Path : route, status, total);
            }

            if (span is not null)
            {
                RequestTracing.FinishServer(span, telemetry, context.Request.Method, route, status, telemetry.ClientModel is null ? null : RequestTracing.OperationOf(route));
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

            if (capture is not null && _settings.DebugLogging)
            {
                RequestLog.ResponseBody(_logger, context.Request.Method, context.Request.Path, status, Redaction.Headers(context.Response.Headers),
                    _redaction.Body(capture.Captured, capture.TotalBytes));
            }
        }
    }

    /// <summary>
    /// Redacts the bodies (keys, Authorization, secret-named values; images cut to their size) and keeps them for the
    /// inspector (CAPTURE_BODIES) and as the span's prompt and completion events (message-content tracing).
    /// </summary>
    private void KeepCapture(long id, RequestCapture bodies, ResponseCapture client, System.Diagnostics.Activity? span)
    {
        var received = _redaction.Body(bodies.Received.Bytes, bodies.Received.TotalBytes, MaxInspectedChars);
        var answer = _redaction.Body(client.Captured, client.TotalBytes, MaxInspectedChars);
        if (_settings.CaptureBodies)
        {
            _captures.Add(new CapturedExchange(id, received,
                bodies.SentUpstream.TotalBytes > 0 ? _redaction.Body(bodies.SentUpstream.Bytes, bodies.SentUpstream.TotalBytes, MaxInspectedChars) : null,
                bodies.UpstreamAnswer.TotalBytes > 0 ? _redaction.Body(bodies.UpstreamAnswer.Bytes, bodies.UpstreamAnswer.TotalBytes, MaxInspectedChars) : null,
                answer));
        }

        if (span is { IsAllDataRequested: true } && _settings.TraceMessageContent)
        {
            RequestTracing.AddContent(span, received, answer);
        }
    }

    /// <summary>Longest text the inspector keeps of one body (characters, after redaction).</summary>
    private const int MaxInspectedChars = RequestCapture.MaxBodyBytes;

    /// <summary>Copilot's X-Initiator and X-Interaction-Id (docs/protocol.md §8.1): who sent the request, and which chat turn it belongs to.</summary>
    private static void ReadCopilotHeaders(HttpRequest request, RequestTelemetry telemetry)
    {
        telemetry.UserAgent = request.Headers.UserAgent.ToString() is { Length: > 0 } userAgent ? userAgent : null;
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

    /// <summary>Reads the start of the request body (then rewinds it for the relay) and tees the response: DEBUG_LOGGING and CAPTURE_BODIES share it.</summary>
    private async Task<ResponseCapture> BeginCaptureAsync(HttpContext context, RequestCapture? bodies)
    {
        // Buffer the request so the relay still reads it from the start after we did.
        context.Request.EnableBuffering();
        var keep = bodies is null ? MaxCapturedBytes : Math.Max(MaxCapturedBytes, RequestCapture.MaxBodyBytes);
        var body = new byte[keep];
        var read = 0;
        int n;
        while (read < body.Length && (n = await context.Request.Body.ReadAsync(body.AsMemory(read), context.RequestAborted)) > 0)
        {
            read += n;
        }

        var total = context.Request.ContentLength ?? read;
        context.Request.Body.Position = 0;
        bodies?.Received.Append(body.AsSpan(0, read));
        if (_settings.DebugLogging)
        {
            RequestLog.RequestBody(_logger, context.Request.Method, context.Request.Path, Redaction.Headers(context.Request.Headers),
                read == 0 ? "(empty)" : _redaction.Body(body.AsSpan(0, Math.Min(read, MaxCapturedBytes)), total));
        }

        var original = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var tee = new CaptureStream(original.Stream, keep);
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
