using System.Collections.Concurrent;
using System.Diagnostics;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;

namespace CopilotProxy.Queueing;

/// <summary>
/// One <see cref="FairSlots"/> per deployment that has a cap (<c>litellm_params.max_parallel_requests</c>). Deployments
/// without one are not queued here: the upstream queues them itself, first come, first served.
/// </summary>
public sealed class DeploymentQueues(ProxySettings settings, TeamMetrics metrics, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, FairSlots> _queues = new(StringComparer.Ordinal);

    /// <summary>Every capped deployment's queue now, for the dashboard.</summary>
    public IReadOnlyDictionary<string, FairSlots> Queues => _queues;

    /// <summary>Requests of <paramref name="queueKey"/> (a <see cref="QueueTurn.Key"/>) waiting for any deployment now.</summary>
    public int WaitingFor(string queueKey) => _queues.Values.Sum(q => q.WaitingFor(queueKey));

    /// <summary>
    /// Takes a slot of <paramref name="deployment"/> for <paramref name="turn"/>, waiting its turn when all are busy.
    /// Returns null when the deployment has no cap. Throws a 429-class <see cref="UpstreamException"/> after
    /// QUEUE_TIMEOUT_SECONDS, and <see cref="OperationCanceledException"/> as soon as the client leaves. A request that
    /// waited gets a <c>queue &lt;model&gt;</c> span and its wait on <paramref name="telemetry"/> (the inspector's timing).
    /// </summary>
    public async ValueTask<IDisposable?> AcquireAsync(Deployment deployment, QueueTurn turn, CancellationToken clientAborted, RequestTelemetry? telemetry = null)
    {
        if (deployment.Defaults.MaxParallelRequests is not { } capacity)
        {
            return null;
        }

        var queue = _queues.GetOrAdd(deployment.Key, _ => new FairSlots(capacity));
        if (queue.Capacity != capacity)
        {
            queue.Resize(capacity);
        }

        var started = Stopwatch.GetTimestamp();
        using var timeout = new CancellationTokenSource(settings.QueueTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, timeout.Token);
        var pending = queue.AcquireAsync(turn.Key, linked.Token);
        // A free slot is taken synchronously: the request did not wait, so it gets no span, no gauge change and no wait
        // recorded. Otherwise it is in its key's line already (FairSlots enqueues before its first await).
        if (pending.IsCompletedSuccessfully)
        {
            return pending.Result;
        }

        metrics.QueueChanged(deployment.Key, 1);
        using var span = RequestTracing.StartQueueWait(deployment.UpstreamModel, turn.Label, capacity, queue.Depth);
        try
        {
            return await pending;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !clientAborted.IsCancellationRequested)
        {
            span?.SetStatus(ActivityStatusCode.Error, "queue_timeout");
            span?.SetTag("error.type", "queue_timeout");
            throw new UpstreamException(UpstreamFailure.CoolingDown,
                $"The request waited {settings.QueueTimeout.TotalSeconds:0} s for one of the {capacity} slots of '{deployment.UpstreamModel}' " +
                $"(litellm_params.max_parallel_requests) and timed out, with {queue.Depth} other requests still waiting. Try again later, " +
                "or raise QUEUE_TIMEOUT_SECONDS or the deployment's max_parallel_requests.",
                deployment.Upstream.Resolve(string.Empty))
            { UpstreamCode = "queue_timeout", RetryAfter = TimeSpan.FromSeconds(5) };
        }
        finally
        {
            var waited = Stopwatch.GetElapsedTime(started);
            metrics.QueueChanged(deployment.Key, -1);
            metrics.RecordQueueWait(deployment.Key, waited);
            span?.SetTag("copilot_proxy.queue.wait_ms", Math.Round(waited.TotalMilliseconds, 1));
            if (telemetry is not null)
            {
                // A retry may queue again: the inspector shows the request's whole wait.
                telemetry.QueueWait = (telemetry.QueueWait ?? TimeSpan.Zero) + waited;
            }
        }
    }
}
