using System.Collections.Concurrent;
using System.Diagnostics;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Queueing;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace CopilotProxy.Routing;

/// <summary>
/// An upstream answer whose headers arrived, with the deployment that gave it and the idle timeout that keeps guarding
/// its body. Disposing it releases the response, the timeout and the request bodies sent.
/// </summary>
public sealed class RoutedResponse : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly Activity? _span;
    private readonly RequestTelemetry? _telemetry;
    private int _disposed;

    internal RoutedResponse(Deployment deployment, HttpResponseMessage response, ActivityTimeout timeout, Uri url, Activity? span = null, RequestTelemetry? telemetry = null)
    {
        Deployment = deployment;
        Response = response;
        Timeout = timeout;
        Url = url;
        _span = span;
        _telemetry = telemetry;
        Answer = new UpstreamAnswer(response, timeout, url, deployment.Upstream) { Capture = telemetry?.Capture?.UpstreamAnswer };
        _owned.Add(response);
        _owned.Add(timeout);
    }

    public Deployment Deployment { get; }
    public HttpResponseMessage Response { get; }
    public ActivityTimeout Timeout { get; }
    public Uri Url { get; }

    /// <summary>The answer as <see cref="UpstreamPipeline"/> reads it.</summary>
    public UpstreamAnswer Answer { get; }

    /// <summary>
    /// Answers that can pass on a second try: the upstream (or a gateway in front of it) was overloaded, restarting or
    /// unreachable, or asked us to come back (429). Other 4xx are the request's fault; a 500 with a body and a 501 say
    /// what the upstream can't do ("image input is not supported", "no embeddings"), and would cost the same answer again.
    /// </summary>
    internal bool IsRetryable => (int)Response.StatusCode is 429 or 502 or 503 or 504;

    /// <summary>Worth trying a fallback group for: any server-side failure, since a fallback is a different model.</summary>
    internal bool IsServerFailure => (int)Response.StatusCode >= 500 || IsRetryable;

    /// <summary>The upstream's <c>Retry-After</c> (seconds or a date), when it sent one.</summary>
    internal TimeSpan? RetryAfter(TimeProvider time)
    {
        var header = Response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - time.GetUtcNow() : null;
    }

    internal void Own(IDisposable resource) => _owned.Add(resource);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // The attempt's span lasts as long as its answer: a retried one ends here at once, the client's at the stream's end.
            if (_span is not null)
            {
                var status = (int)Response.StatusCode;
                if (IsServerFailure)
                {
                    RequestTracing.FailAttempt(_span, status.ToString(System.Globalization.CultureInfo.InvariantCulture), $"answered {status}", status);
                }
                else
                {
                    RequestTracing.FinishAttempt(_span, status, _telemetry);
                }
            }

            foreach (var resource in _owned)
            {
                resource.Dispose();
            }
        }
    }
}

/// <summary>
/// Picks a deployment for each request and gets response headers from it: round-robin across the model's group,
/// skipping deployments that are cooling down, retrying what can pass on a second try (connect failures, a stale pooled connection, 429/502/503/504) on the next deployment with
/// backoff, then trying the <c>fallbacks</c> groups.
/// </summary>
/// <remarks>
/// The unit of work retried is "send the request and receive the status line and headers". Nothing has been written to
/// the client at that point, so a retry is invisible to it. Once headers with any other status are back the router
/// returns and the caller starts writing: a stream that breaks after that is never retried, because the client already
/// holds part of an answer that a second generation would not continue.
/// </remarks>
public sealed class DeploymentRouter(GatewayConfigHolder config, ModelCatalog catalog, DeploymentCooldowns cooldowns, ProxySettings settings,
    ShutdownDrain drain, DeploymentQueues queues, TimeProvider time, ILogger<DeploymentRouter> logger)
{
    /// <summary>First backoff; it doubles per retry, with jitter.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest <c>Retry-After</c> waited out before retrying; a longer one is passed to the client.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, int> _turns = new(StringComparer.Ordinal);
    private (RouterSettings Settings, ResiliencePipeline<RoutedResponse> Pipeline)? _pipeline;

    /// <summary>
    /// Sends <paramref name="path"/> for <paramref name="model"/>. Returns the first answer that is not a server failure (4xx included:
    /// the client's mistake is not retried), or the last 5xx when every deployment and fallback failed. Throws the
    /// <see cref="UpstreamException"/> of the first group when nothing answered at all.
    /// </summary>
    /// <param name="writeBody">Writes the request body for one deployment (its model id and defaults) into the buffer.</param>
    /// <param name="prepare">
    /// Runs for the chosen deployment before its request is sent (making sure the model is loaded with enough context);
    /// its time is not upstream silence, and its failure is the request's answer, not retried.
    /// </param>
    /// <param name="turn">Whose turn the request takes in a capped deployment's fair queue (each virtual key; null: the one shared turn for requests without one).</param>
    /// <param name="telemetry">The request's: retries and fallbacks are recorded as changes, each attempt gets a span, the body sent is captured.</param>
    public async Task<RoutedResponse> SendAsync(CatalogModel model, string path, Action<Deployment, PooledBufferWriter> writeBody, bool streaming,
        CancellationToken clientAborted, Func<CatalogModel, Deployment, CancellationToken, Task>? prepare = null, QueueTurn? turn = null, RequestTelemetry? telemetry = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(writeBody);
        var current = config.Current;
        var router = current.Router;

        RoutedResponse? firstAnswer = null;
        UpstreamException? firstFailure = null;
        foreach (var group in GroupsFor(model, current))
        {
            var candidate = group == model ? model : await catalog.FindAsync(group.Id, clientAborted);
            if (candidate is null || candidate.Deployments.Count == 0)
            {
                continue;
            }

            try
            {
                var answer = await SendToGroupAsync(candidate, path, writeBody, streaming, router, current, prepare, turn ?? QueueTurn.Shared, telemetry, clientAborted);
                if (!answer.IsServerFailure)
                {
                    firstAnswer?.Dispose();
                    if (candidate != model)
                    {
                        RouterLog.FellBack(logger, model.Id, candidate.Id);
                        telemetry?.AddChange(new ProxyChange(ProxyChangeKind.Fallback, $"{model.Id} failed; {candidate.Id} answered (router_settings.fallbacks)"));
                    }

                    if (telemetry is not null)
                    {
                        telemetry.UpstreamUrl = answer.Url.GetComponents(UriComponents.HttpRequestUrl, UriFormat.UriEscaped);
                    }

                    return answer;
                }

                if (firstAnswer is null && firstFailure is null)
                {
                    firstAnswer = answer;
                }
                else
                {
                    answer.Dispose();
                }
            }
            catch (UpstreamException failure) when (failure.Failure is UpstreamFailure.Connect or UpstreamFailure.Timeout or UpstreamFailure.CoolingDown)
            {
                if (firstAnswer is null && firstFailure is null)
                {
                    firstFailure = failure;
                }
            }
        }

        return firstAnswer ?? throw firstFailure!;
    }

    /// <summary>The model's own group, then its fallback groups (as placeholders resolved through the catalog).</summary>
    private static IEnumerable<CatalogModel> GroupsFor(CatalogModel model, GatewayConfig current)
    {
        yield return model;
        foreach (var fallback in current.Router.Fallbacks)
        {
            if (!string.Equals(fallback.From, model.Id, StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var to in fallback.To)
            {
                yield return new CatalogModel { Id = to };
            }
        }
    }

    private async Task<RoutedResponse> SendToGroupAsync(CatalogModel group, string path, Action<Deployment, PooledBufferWriter> writeBody, bool streaming,
        RouterSettings router, GatewayConfig current, Func<CatalogModel, Deployment, CancellationToken, Task>? prepare, QueueTurn turn,
        RequestTelemetry? telemetry, CancellationToken clientAborted)
    {
        var deployments = group.Deployments;
        // Cooling a lone deployment with nowhere else to go would only turn one failure into several refused requests.
        var canCool = deployments.Count > 1 || current.Router.Fallbacks.Any(f => string.Equals(f.From, group.Id, StringComparison.Ordinal));
        var start = _turns.AddOrUpdate(group.Id, 0, static (_, n) => unchecked(n + 1) & int.MaxValue);
        var attempt = 0;
        // The attempt before's answer or failure, formatted only for a retry's change (most requests never retry).
        object? previous = null;

        return await PipelineFor(router).ExecuteAsync(async _ =>
        {
            var number = ++attempt;
            if (number > 1)
            {
                telemetry?.AddChange(new ProxyChange(ProxyChangeKind.Retry, $"attempt {number} of '{group.Id}' after {DescribeAttempt(previous)}"));
            }

            var deployment = Pick(group, start + number - 1);
            // The slot is held until the answer is disposed (its whole stream), and taken before a model load, which
            // occupies the deployment as much as a generation does.
            var slot = await queues.AcquireAsync(deployment, turn, clientAborted, telemetry);
            try
            {
                if (prepare is not null)
                {
                    await prepare(group, deployment, clientAborted);
                }

                var answer = await SendToDeploymentAsync(deployment, path, writeBody, streaming, router, canCool, telemetry, number, clientAborted);
                if (slot is not null)
                {
                    answer.Own(slot);
                }

                previous = answer;
                return answer;
            }
            catch (UpstreamException failure)
            {
                slot?.Dispose();
                previous = failure;
                throw;
            }
            catch
            {
                slot?.Dispose();
                throw;
            }
        }, clientAborted);
    }

    private Deployment Pick(CatalogModel group, int turn)
    {
        var deployments = group.Deployments;
        DateTimeOffset? soonest = null;
        for (var i = 0; i < deployments.Count; i++)
        {
            var deployment = deployments[(turn + i) % deployments.Count];
            if (cooldowns.CoolingUntil(deployment.Key) is not { } until)
            {
                return deployment;
            }

            soonest = soonest is null || until < soonest ? until : soonest;
        }

        var wait = soonest!.Value - time.GetUtcNow();
        throw new UpstreamException(UpstreamFailure.CoolingDown,
            $"Every deployment of '{group.Id}' failed repeatedly and is cooling down for {Math.Max(1, Math.Ceiling(wait.TotalSeconds))} s " +
            "(router_settings.cooldown_time). Check that its upstream is running; GET /health shows the last error.",
            deployments[0].Upstream.Resolve(string.Empty))
        { RetryAfter = wait };
    }

    private static string? DescribeAttempt(object? previous) => previous switch
    {
        RoutedResponse answer => $"{(int)answer.Response.StatusCode} from {answer.Url.GetComponents(UriComponents.HttpRequestUrl, UriFormat.UriEscaped)}",
        UpstreamException failure => $"{ProxyMetrics.FailureClass(failure.Failure)}: {failure.Message}",
        _ => null,
    };

    private async Task<RoutedResponse> SendToDeploymentAsync(Deployment deployment, string path, Action<Deployment, PooledBufferWriter> writeBody,
        bool streaming, RouterSettings router, bool canCool, RequestTelemetry? telemetry, int attempt, CancellationToken clientAborted)
    {
        var body = new PooledBufferWriter();
        // The drain token ends streams still running when GRACEFUL_SHUTDOWN_TIMEOUT runs out, with an in-band error.
        var timeout = new ActivityTimeout(IdleTimeoutFor(deployment, streaming, router), clientAborted, drain.Expired);
        var url = deployment.Upstream.Resolve(path);
        var span = RequestTracing.StartAttempt(path, deployment.UpstreamModel, url, attempt);
        HttpResponseMessage response;
        try
        {
            writeBody(deployment, body);
            if (telemetry?.Capture is { } capture)
            {
                // The body of the attempt that answers is the one kept: a retry or a fallback writes its own.
                capture.SentUpstream.Reset();
                capture.SentUpstream.Append(body.WrittenSpan);
            }

            telemetry?.MarkAttemptSent(Stopwatch.GetTimestamp());
            response = await deployment.Upstream.PostJsonAsync(path, body.WrittenMemory, timeout, deployment.Defaults.ExtraHeaders,
                RequestTracing.TraceParentFor(span, telemetry));
        }
        catch (UpstreamException failure)
        {
            body.Dispose();
            timeout.Dispose();
            if (span is not null)
            {
                RequestTracing.FailAttempt(span, ProxyMetrics.FailureClass(failure.Failure), failure.Message);
            }

            // A stale pooled connection says nothing about the deployment's health.
            if (failure.Failure is UpstreamFailure.Connect or UpstreamFailure.Timeout && !failure.StaleConnection)
            {
                Failed(deployment, router, canCool, failure.Message);
            }

            throw;
        }

        var routed = new RoutedResponse(deployment, response, timeout, url, span, telemetry);
        routed.Own(body);
        if (routed.IsRetryable)
        {
            Failed(deployment, router, canCool, $"answered {(int)response.StatusCode}");
        }

        return routed;
    }

    private void Failed(Deployment deployment, RouterSettings router, bool canCool, string reason)
    {
        if (canCool && cooldowns.RecordFailure(deployment.Key, router))
        {
            RouterLog.CoolingDown(logger, deployment.Key, router.CooldownTime.TotalSeconds, reason);
        }
    }

    /// <summary>
    /// LiteLLM's <c>timeout</c>/<c>stream_timeout</c> become httpx read timeouts, i.e. limits on silence, which is what
    /// <see cref="ActivityTimeout"/> enforces. A router-wide timeout only counts when the file sets one; otherwise UPSTREAM_TIMEOUT.
    /// </summary>
    private TimeSpan IdleTimeoutFor(Deployment deployment, bool streaming, RouterSettings router) =>
        (streaming ? deployment.Defaults.StreamTimeout : null)
        ?? deployment.Defaults.Timeout
        ?? (router.Timeout != RouterSettings.DefaultTimeout ? router.Timeout : settings.UpstreamIdleTimeout);

    private ResiliencePipeline<RoutedResponse> PipelineFor(RouterSettings router)
    {
        if (_pipeline is { } cached && ReferenceEquals(cached.Settings, router))
        {
            return cached.Pipeline;
        }

        var builder = new ResiliencePipelineBuilder<RoutedResponse> { TimeProvider = time };
        if (router.NumRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<RoutedResponse>
            {
                MaxRetryAttempts = router.NumRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = RetryDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    // A Retry-After longer than we are willing to hold the client goes back to it as the 429 it is.
                    { Result: { } answer } => answer.IsRetryable && !(answer.RetryAfter(time) > MaxRetryAfter),
                    // A timeout is not retried: with minutes-long limits for just-in-time loading, a retry would double the wait.
                    { Exception: UpstreamException { Failure: UpstreamFailure.Connect } } => true,
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.RetryAfter(time) is { } wait && wait > TimeSpan.Zero ? wait : (TimeSpan?)null),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    RouterLog.Retrying(logger, args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? $"answered {(int?)args.Outcome.Result?.Response.StatusCode}");
                    return default;
                },
            });
        }

        var pipeline = builder.Build();
        _pipeline = (router, pipeline);
        return pipeline;
    }
}
