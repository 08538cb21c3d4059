using System.Collections.Concurrent;
using System.Diagnostics;
using CopilotProxy.Upstream;

namespace CopilotProxy.Dashboard;

/// <summary>
/// How long each upstream takes to list its models, measured when the page asks and at most every few seconds per
/// upstream, so an open dashboard adds one small request now and then, not one per poll.
/// </summary>
public sealed class UpstreamProbe(TimeProvider time)
{
    private static readonly TimeSpan Spacing = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<Uri, (DateTimeOffset At, double? LatencyMs)> _last = new();

    /// <summary>The latest round-trip time of GET /v1/models on the upstream; null when it did not answer.</summary>
    public async Task<double?> LatencyAsync(UpstreamClient upstream, CancellationToken cancellationToken)
    {
        var key = upstream.BaseUrl;
        var now = time.GetUtcNow();
        if (_last.TryGetValue(key, out var last) && now - last.At < Spacing)
        {
            return last.LatencyMs;
        }

        double? latency = null;
        using var timeout = new ActivityTimeout(ProbeTimeout, cancellationToken);
        try
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await upstream.GetAsync("v1/models", timeout);
            latency = response.IsSuccessStatusCode ? Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1) : null;
        }
        catch (UpstreamException)
        {
            // Unreachable: the page shows the catalog's error for it.
        }

        _last[key] = (now, latency);
        return latency;
    }
}
