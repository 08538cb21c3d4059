using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Telemetry;

/// <summary>
/// The proxy's spans, in OpenTelemetry's HTTP and GenAI semantic conventions: one server span per request, a client span
/// per upstream attempt (retries and fallbacks are siblings), and spans for a model load and a queue wait.
/// </summary>
/// <remarks>
/// The spans come from the proxy's own <see cref="ActivitySource"/>, not ASP.NET Core's hosting diagnostics: with no
/// listener (OTEL_EXPORTER_OTLP_ENDPOINT unset) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> is one
/// field check and returns null, so tracing off costs the hot path nothing, and HttpClient's propagation stays compiled
/// out (HttpActivityPropagationSupport=false): the proxy writes <c>traceparent</c> upstream itself.
/// See https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/.
/// </remarks>
public static class RequestTracing
{
    public const string SourceName = "CopilotProxy";

    public static readonly ActivitySource Source = new(SourceName, typeof(RequestTracing).Assembly.GetName().Version?.ToString(3));

    public const string TraceParentHeader = "traceparent";
    public const string TraceStateHeader = "tracestate";

    /// <summary>Starts the request's server span, the child of the client's <c>traceparent</c> when it sent one; null when nobody listens.</summary>
    public static Activity? StartServer(HttpRequest request, RequestTelemetry telemetry)
    {
        var traceParent = request.Headers[TraceParentHeader].ToString();
        if (traceParent.Length > 0)
        {
            telemetry.ClientTraceParent = traceParent;
        }

        if (!Source.HasListeners())
        {
            return null;
        }

        ActivityContext.TryParse(traceParent.Length > 0 ? traceParent : null, request.Headers[TraceStateHeader].ToString() is { Length: > 0 } state ? state : null,
            isRemote: true, out var parent);
        var span = Source.StartActivity(request.Method, ActivityKind.Server, parent);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("http.request.method", request.Method);
            span.SetTag("url.path", request.Path.Value);
            span.SetTag("url.scheme", request.Scheme);
            span.SetTag("server.port", request.HttpContext.Connection.LocalPort);
            span.SetTag("user_agent.original", telemetry.UserAgent);
        }

        telemetry.Span = span;
        return span;
    }

    /// <summary>Names the server span after its route and adds what the request turned out to be: status, GenAI summary, failure.</summary>
    public static void FinishServer(Activity span, RequestTelemetry telemetry, string method, string route, int status, string? operation)
    {
        span.DisplayName = method + " " + route;
        if (span.IsAllDataRequested)
        {
            span.SetTag("http.route", route);
            span.SetTag("http.response.status_code", status);
            if (operation is not null)
            {
                span.SetTag("gen_ai.operation.name", operation);
                span.SetTag("gen_ai.system", GenAISystem);
                span.SetTag("gen_ai.request.model", telemetry.ClientModel);
                SetResponse(span, telemetry);
            }

            foreach (var change in telemetry.Changes)
            {
                span.AddEvent(new ActivityEvent("copilot_proxy.change", tags: new ActivityTagsCollection
                {
                    ["copilot_proxy.change.kind"] = change.Kind.ToString(),
                    ["copilot_proxy.change.detail"] = change.Detail,
                }));
            }
        }

        if (telemetry.Failure is { } failure)
        {
            span.SetTag("error.type", ProxyMetrics.FailureClass(failure));
            span.SetStatus(ActivityStatusCode.Error, telemetry.FailureMessage);
        }
        else if (status >= 500)
        {
            span.SetTag("error.type", status.ToString(CultureInfo.InvariantCulture));
            span.SetStatus(ActivityStatusCode.Error);
        }

        span.Stop();
    }

    /// <summary>
    /// The value of <c>gen_ai.system</c>: LM Studio and the other upstreams the proxy serves speak OpenAI's API, and
    /// "openai" is the well-known value tools such as Langfuse group by; the model names say which server ran them.
    /// </summary>
    public const string GenAISystem = "openai";

    /// <summary>The GenAI operation of an upstream route: <c>chat</c>, <c>text_completion</c>, <c>embeddings</c>; null for none.</summary>
    public static string? OperationOf(string path) =>
        path.EndsWith("chat/completions", StringComparison.Ordinal) || path.EndsWith("responses", StringComparison.Ordinal) || path.EndsWith("messages", StringComparison.Ordinal) ? "chat"
        : path.EndsWith("completions", StringComparison.Ordinal) ? "text_completion"
        : path.EndsWith("embeddings", StringComparison.Ordinal) ? "embeddings"
        : null;

    /// <summary>Starts the client span of one upstream attempt, under the current span (the request's, or nothing); null when nobody listens.</summary>
    public static Activity? StartAttempt(string path, string upstreamModel, Uri url, int attempt)
    {
        // The span's name is built per request; with nobody listening that alone was the cost of tracing off.
        if (!Source.HasListeners())
        {
            return null;
        }

        var operation = OperationOf(path) ?? "chat";
        var span = Source.StartActivity(operation + " " + upstreamModel, ActivityKind.Client);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.operation.name", operation);
            span.SetTag("gen_ai.system", GenAISystem);
            span.SetTag("gen_ai.request.model", upstreamModel);
            span.SetTag("server.address", url.Host);
            span.SetTag("server.port", url.Port);
            span.SetTag("url.full", url.GetLeftPart(UriPartial.Path));
            span.SetTag("copilot_proxy.attempt", attempt);
        }

        return span;
    }

    /// <summary>Ends an attempt that failed before an answer the client will see: a retry or a fallback follows, or the failure is the answer.</summary>
    public static void FailAttempt(Activity span, string errorType, string? message, int? status = null)
    {
        if (status is { } code)
        {
            span.SetTag("http.response.status_code", code);
        }

        span.SetTag("error.type", errorType);
        span.SetStatus(ActivityStatusCode.Error, message);
        span.Stop();
    }

    /// <summary>Ends the attempt whose answer the client got, with the usage and finish reason the relay saw.</summary>
    public static void FinishAttempt(Activity span, int status, RequestTelemetry? telemetry)
    {
        span.SetTag("http.response.status_code", status);
        if (telemetry is not null)
        {
            SetResponse(span, telemetry);
            if (telemetry.Failure is { } failure)
            {
                span.SetTag("error.type", ProxyMetrics.FailureClass(failure));
                span.SetStatus(ActivityStatusCode.Error, telemetry.FailureMessage);
            }
        }

        if (status >= 400)
        {
            span.SetStatus(ActivityStatusCode.Error);
        }

        span.Stop();
    }

    /// <summary>A span around a model load (or reload with the context floor) before a request could go.</summary>
    public static Activity? StartModelLoad(string upstreamModel, int? contextLength)
    {
        var span = Source.StartActivity("load " + upstreamModel, ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.request.model", upstreamModel);
            span.SetTag("copilot_proxy.context_length", contextLength);
        }

        return span;
    }

    /// <summary>
    /// A span for the time a request waited for a slot of a capped deployment (<c>max_parallel_requests</c>), under the
    /// request's span, named like <c>load &lt;model&gt;</c>; started only when the request really waits. The caller adds
    /// <c>copilot_proxy.queue.wait_ms</c> when it ends and records the wait on <see cref="RequestTelemetry.QueueWait"/> too.
    /// </summary>
    /// <param name="turn">Whose turn it waited for: the virtual key's label, or "shared".</param>
    /// <param name="depth">Requests waiting for the deployment when it joined, itself included.</param>
    public static Activity? StartQueueWait(string upstreamModel, string turn, int capacity, int depth)
    {
        var span = Source.StartActivity("queue " + upstreamModel, ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("gen_ai.request.model", upstreamModel);
            span.SetTag("copilot_proxy.queue.turn", turn);
            span.SetTag("copilot_proxy.queue.capacity", capacity);
            span.SetTag("copilot_proxy.queue.depth", depth);
        }

        return span;
    }

    /// <summary>The W3C <c>traceparent</c> to send upstream: the attempt's own, else the client's as it came; null for none.</summary>
    public static string? TraceParentFor(Activity? attempt, RequestTelemetry? telemetry) =>
        attempt is { IdFormat: ActivityIdFormat.W3C } ? attempt.Id : telemetry?.ClientTraceParent;

    /// <summary>Adds the prompt and the completion as span events (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true), redacted.</summary>
    public static void AddContent(Activity span, string prompt, string completion)
    {
        span.AddEvent(new ActivityEvent("gen_ai.content.prompt", tags: new ActivityTagsCollection { ["gen_ai.prompt"] = prompt }));
        span.AddEvent(new ActivityEvent("gen_ai.content.completion", tags: new ActivityTagsCollection { ["gen_ai.completion"] = completion }));
    }

    private static void SetResponse(Activity span, RequestTelemetry telemetry)
    {
        span.SetTag("gen_ai.response.model", telemetry.UpstreamModel);
        span.SetTag("gen_ai.usage.input_tokens", telemetry.PromptTokens);
        span.SetTag("gen_ai.usage.output_tokens", telemetry.CompletionTokens);
        if (telemetry.FinishReason is { } reason)
        {
            span.SetTag("gen_ai.response.finish_reasons", new[] { reason });
        }
    }
}
