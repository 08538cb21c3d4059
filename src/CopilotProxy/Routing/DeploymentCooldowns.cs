using System.Collections.Concurrent;
using CopilotProxy.Configuration;

namespace CopilotProxy.Routing;

/// <summary>
/// LiteLLM's cooldown: a deployment that failed more than <see cref="RouterSettings.AllowedFails"/> times within a minute
/// is skipped for <see cref="RouterSettings.CooldownTime"/>, so a dead upstream is not hammered by every request.
/// </summary>
/// <remarks>
/// NOTE: Polly's circuit breaker was considered. It trips on a failure <em>ratio</em> over a sampling window with a
/// minimum throughput, which cannot express LiteLLM's "more than N failures in a minute", and one breaker per deployment
/// would have to be rebuilt whenever config.yaml changes. A small table keyed by <see cref="Catalog.Deployment.Key"/> does both.
/// </remarks>
public sealed class DeploymentCooldowns(TimeProvider time)
{
    private static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, State> _states = new(StringComparer.Ordinal);

    /// <summary>When the deployment may be tried again, or null when it is not cooling down.</summary>
    public DateTimeOffset? CoolingUntil(string key)
    {
        if (_states.TryGetValue(key, out var state))
        {
            lock (state)
            {
                return state.Until > time.GetUtcNow() ? state.Until : null;
            }
        }

        return null;
    }

    /// <summary>Counts a failure; returns true when this failure started a cooldown.</summary>
    public bool RecordFailure(string key, RouterSettings router)
    {
        ArgumentNullException.ThrowIfNull(router);
        if (router.CooldownTime <= TimeSpan.Zero)
        {
            return false;
        }

        var now = time.GetUtcNow();
        var state = _states.GetOrAdd(key, static _ => new State());
        lock (state)
        {
            if (now - state.WindowStart > FailureWindow)
            {
                state.WindowStart = now;
                state.Failures = 0;
            }

            state.Failures++;
            if (state.Failures <= router.AllowedFails)
            {
                return false;
            }

            state.Until = now + router.CooldownTime;
            state.Failures = 0;
            state.WindowStart = now;
            return true;
        }
    }

    private sealed class State
    {
        public DateTimeOffset WindowStart { get; set; }
        public int Failures { get; set; }
        public DateTimeOffset Until { get; set; }
    }
}
