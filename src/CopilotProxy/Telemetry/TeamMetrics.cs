using System.Diagnostics.Metrics;

namespace CopilotProxy.Telemetry;

/// <summary>
/// The team instruments, on the proxy's one meter so /metrics serves them with the rest: requests and tokens per
/// virtual key alias, and each deployment's fair queue (depth now, time waited). All registrations live here.
/// </summary>
public sealed class TeamMetrics
{
    private static readonly double[] WaitBuckets = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly Counter<long> _keyRequests;
    private readonly Counter<long> _keyTokens;
    private readonly UpDownCounter<long> _queueDepth;
    private readonly Histogram<double> _queueWait;

    public TeamMetrics(ProxyMetrics metrics)
    {
        var meter = metrics.Meter;
        _keyRequests = meter.CreateCounter<long>("copilot_proxy.key.requests", "{request}", "Model requests by virtual key alias (master for the master key).");
        _keyTokens = meter.CreateCounter<long>("copilot_proxy.key.tokens", "{token}", "Tokens by virtual key alias and direction (input, output).");
        _queueDepth = meter.CreateUpDownCounter<long>("copilot_proxy.queue.depth", "{request}", "Requests waiting for a slot of a deployment (litellm_params.max_parallel_requests).");
        _queueWait = meter.CreateHistogram("copilot_proxy.queue.wait", "s", "Time requests waited in a deployment's fair queue before they were sent.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = WaitBuckets });
    }

    public void RecordKeyRequest(string alias, long promptTokens, long completionTokens)
    {
        var key = new KeyValuePair<string, object?>("key_alias", alias);
        _keyRequests.Add(1, key);
        if (promptTokens > 0)
        {
            _keyTokens.Add(promptTokens, key, new("direction", "input"));
        }

        if (completionTokens > 0)
        {
            _keyTokens.Add(completionTokens, key, new("direction", "output"));
        }
    }

    public void QueueChanged(string deployment, int delta) => _queueDepth.Add(delta, new KeyValuePair<string, object?>("deployment", deployment));

    public void RecordQueueWait(string deployment, TimeSpan waited) =>
        _queueWait.Record(waited.TotalSeconds, new KeyValuePair<string, object?>("deployment", deployment));
}
