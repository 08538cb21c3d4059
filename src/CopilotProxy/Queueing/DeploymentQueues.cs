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

    /// <summary>Requests of <paramref name="queueKey"/> waiting for any deployment now.</summary>
    public int WaitingFor(string queueKey) => _queues.Values.Sum(q => q.WaitingFor(queueKey));

    /// <summary>
    /// Takes a slot of <paramref name="deployment"/> for <paramref name="queueKey"/>, waiting its turn when all are busy.
    /// Returns null when the deployment has no cap. Throws a 429-class <see cref="UpstreamException"/> after
    /// QUEUE_TIMEOUT_SECONDS, and <see cref="OperationCanceledException"/> as soon as the client leaves.
    /// </summary>
    public async ValueTask<IDisposable?> AcquireAsync(Deployment deployment, string queueKey, CancellationToken clientAborted)
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
        var counted = queue.InFlight >= capacity;
        if (counted)
        {
            metrics.QueueChanged(deployment.Key, 1);
        }

        try
        {
            return await queue.AcquireAsync(queueKey, linked.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !clientAborted.IsCancellationRequested)
        {
            throw new UpstreamException(UpstreamFailure.CoolingDown,
                $"The request waited {settings.QueueTimeout.TotalSeconds:0} s for one of the {capacity} slots of '{deployment.UpstreamModel}' " +
                $"(litellm_params.max_parallel_requests) and timed out, with {queue.Depth} other requests still waiting. Try again later, " +
                "or raise QUEUE_TIMEOUT_SECONDS or the deployment's max_parallel_requests.",
                deployment.Upstream.Resolve(string.Empty))
            { UpstreamCode = "queue_timeout", RetryAfter = TimeSpan.FromSeconds(5) };
        }
        finally
        {
            if (counted)
            {
                metrics.QueueChanged(deployment.Key, -1);
                metrics.RecordQueueWait(deployment.Key, Stopwatch.GetElapsedTime(started));
            }
        }
    }
}
