using System.Collections.Concurrent;
using System.Diagnostics;
using CopilotProxy.Catalog;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Loading;

/// <summary>What an unload request achieved.</summary>
public enum UnloadOutcome
{
    Unloaded,
    NotLoaded,

    /// <summary>The upstream has no unload API (LM Studio before 0.4, or another OpenAI server).</summary>
    Unsupported,
}

/// <summary>What making sure of a model's context did: the context it now has, its maximum, and how long a load took (null: none was needed).</summary>
public sealed record ContextOutcome(int LoadedContext, int? MaxContext, TimeSpan? LoadDuration);

/// <summary>
/// Loads and unloads models through LM Studio's native <c>/api/v1/models/load</c> and <c>/unload</c> (docs/protocol.md §8.5),
/// for the Ollama front door (explicit load, <c>keep_alive:0</c>, <c>options.num_ctx</c>), the relays (the context floor
/// before a request is sent) and anything else that needs a model ready. Older upstreams load just in time on the first
/// request and keep today's behaviour.
/// </summary>
/// <remarks>
/// Concurrent requests for one model share one round of list, unload and load: the first starts it, the others wait on
/// it. The shared round is not tied to the first client's connection, so its leaving does not fail the others' load.
/// A round's verdict is trusted for <see cref="VerifiedFor"/>: a chat session's requests come seconds apart, and
/// listing every model in LM Studio before each one cost a round trip per request (c=1 throughput 0.49x nginx with it,
/// 0.83x without; docs/performance.md, round four).
/// </remarks>
public sealed class ModelLifecycle(UpstreamClient defaultUpstream, ModelCatalog catalog, TimeProvider time, ILogger<ModelLifecycle> logger)
{
    /// <summary>
    /// How long a model seen loaded with enough context is taken to still be. A model unloaded in LM Studio within this
    /// window is loaded just in time by LM Studio with its own context for one request; the next check after the window
    /// reloads it with the floor (event 1003). Checking before every request could not close that race either: the
    /// model can be unloaded between the check and the request.
    /// </summary>
    public static readonly TimeSpan VerifiedFor = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Task<ContextOutcome?>> _rounds = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, (ContextOutcome Outcome, DateTimeOffset Until)> _verified = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _expiries = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Makes sure the deployment's model is loaded with at least the model's context floor (MIN_CONTEXT_LENGTH or its
    /// <c>model_info.min_context_length</c>) and at least <paramref name="requestedContext"/> (Ollama's <c>num_ctx</c>),
    /// both capped at the model's maximum: loads it when it is not loaded, reloads it when it is loaded smaller.
    /// Returns null when the proxy leaves loading to the upstream (no floor, not LM Studio ≥0.4, an embedding model).
    /// </summary>
    /// <param name="telemetry">The request waiting for it: a load is recorded as its model-load time and, with a floor, as a context-floor change.</param>
    /// <exception cref="UpstreamException">LM Studio could not list, unload or load the model; the message names the fix.</exception>
    public async Task<ContextOutcome?> EnsureContextAsync(CatalogModel model, Deployment deployment, int? requestedContext, CancellationToken cancellationToken,
        RequestTelemetry? telemetry = null)
    {
        var floor = model.MinContextLength ?? 0;
        if (model.Kind != ModelKind.Llm || (floor <= 0 && requestedContext is not > 0) || !IsLmStudioV1(model, deployment.Upstream))
        {
            return null;
        }

        var key = KeyOf(deployment);
        if (_verified.TryGetValue(key, out var verified) && time.GetUtcNow() < verified.Until
            && verified.Outcome.LoadedContext >= Target(floor, requestedContext, verified.Outcome.MaxContext))
        {
            return verified.Outcome;
        }

        while (true)
        {
            Task<ContextOutcome?> round;
            bool mine;
            lock (_gate)
            {
                mine = !_rounds.TryGetValue(key, out var running);
                round = running ?? StartRound(key, deployment, floor, requestedContext);
            }

            var outcome = await round.WaitAsync(cancellationToken);
            if (mine && outcome is not null)
            {
                _verified[key] = (outcome with { LoadDuration = null }, time.GetUtcNow() + VerifiedFor);
            }

            if (telemetry is not null && outcome?.LoadDuration is { } took)
            {
                telemetry.ModelLoad = (telemetry.ModelLoad ?? TimeSpan.Zero) + took;
                telemetry.AddChange(new ProxyChange(ProxyChangeKind.ContextFloor,
                    $"{deployment.UpstreamModel} loaded with a {outcome.LoadedContext}-token context ({Why(floor, requestedContext, outcome.LoadedContext)}) in {took.TotalSeconds:0.0} s"));
            }

            // A round started for a smaller num_ctx than this request asks for: run one of its own after it.
            if (mine || outcome is null || requestedContext is not > 0 || outcome.LoadedContext >= Math.Min(requestedContext.Value, outcome.MaxContext ?? requestedContext.Value))
            {
                return outcome;
            }
        }
    }

    private Task<ContextOutcome?> StartRound(string key, Deployment deployment, int floor, int? requested)
    {
        var round = RoundAsync(deployment, floor, requested);
        _rounds[key] = round;
        _ = round.ContinueWith(_ =>
        {
            lock (_gate)
            {
                _rounds.Remove(key);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return round;
    }

    private async Task<ContextOutcome?> RoundAsync(Deployment deployment, int floor, int? requested)
    {
        // Yield first so the caller registers the round before anything can complete it.
        await Task.Yield();
        var upstream = deployment.Upstream;
        var key = deployment.UpstreamModel;
        using var timeout = new ActivityTimeout(upstream.IdleTimeout, CancellationToken.None);
        if (await LmStudioRest.FindAsync(upstream, key, timeout) is not { } entry)
        {
            // Not downloaded (or named differently): the request goes on and LM Studio answers with its own error.
            return null;
        }

        var max = entry.MaxContextLength;
        var target = Target(floor, requested, max);
        var instances = entry.LoadedInstances ?? [];
        var largest = instances.Select(i => i.Config?.ContextLength ?? 0).DefaultIfEmpty(0).Max();
        if (instances.Count > 0 && largest >= target)
        {
            return new ContextOutcome(largest, max, null);
        }

        using var span = RequestTracing.StartModelLoad(key, target);
        var started = Stopwatch.GetTimestamp();
        if (instances.Count > 0)
        {
            LoadingLog.Reloading(logger, key, largest, target, Why(floor, requested, target));
            foreach (var instance in instances.Where(i => !string.IsNullOrEmpty(i.Id)))
            {
                try
                {
                    await LmStudioRest.UnloadAsync(upstream, instance.Id!, timeout);
                }
                catch (UpstreamException failure) when (failure.Failure == UpstreamFailure.Status)
                {
                    span?.SetStatus(ActivityStatusCode.Error, failure.Message);
                    throw LoadFailed(failure, key, target, floor, requested, "unload the smaller instance of");
                }
            }
        }

        try
        {
            await LmStudioRest.LoadAsync(upstream, key, target, timeout);
        }
        catch (UpstreamException failure) when (failure.Failure is UpstreamFailure.Status or UpstreamFailure.InvalidResponse)
        {
            span?.SetStatus(ActivityStatusCode.Error, failure.Message);
            throw LoadFailed(failure, key, target, floor, requested, "load");
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        LoadingLog.Loaded(logger, key, target, elapsed.TotalMilliseconds);
        RefreshCatalogInBackground();
        return new ContextOutcome(target, max, elapsed);
    }

    private static string KeyOf(Deployment deployment) => $"{deployment.Upstream.Target} {deployment.UpstreamModel}";

    private static int Target(int floor, int? requested, int? max) => Math.Max(Cap(floor, max), Cap(requested ?? 0, max));

    private static int Cap(int wanted, int? max) => max is { } m && m > 0 ? Math.Min(wanted, m) : wanted;

    private static string Why(int floor, int? requested, int target) =>
        requested is > 0 && target > floor ? $"the request's num_ctx {requested}" : $"MIN_CONTEXT_LENGTH {floor}";

    private static UpstreamException LoadFailed(UpstreamException failure, string key, int target, int floor, int? requested, string action)
    {
        var reason = failure.UpstreamMessage ?? failure.Message;
        var fix = requested is > 0 && target > floor
            ? $"send a smaller options.num_ctx, or free memory by unloading other models in LM Studio"
            : $"free memory by unloading other models in LM Studio, or lower MIN_CONTEXT_LENGTH (now {floor}) or this model's model_info.min_context_length in config.yaml; MIN_CONTEXT_LENGTH=0 leaves loading to LM Studio";
        return new UpstreamException(failure.Failure,
            $"LM Studio at {failure.Url} could not {action} {key} with a {target}-token context: {reason}. Fix: {fix}.",
            failure.Url, failure.UpstreamStatus, failure)
        {
            UpstreamMessage = failure.UpstreamMessage,
            UpstreamCode = failure.UpstreamCode,
        };
    }

    /// <summary>Loads the model unless it is loaded already (with its context floor when it has one); returns how long loading took, or null when nothing was loaded.</summary>
    public async Task<TimeSpan?> LoadAsync(CatalogModel model, ActivityTimeout timeout, int? requestedContext = null)
    {
        if (model.Source != CatalogSource.LmStudioV1)
        {
            LoadingLog.Skipped(logger, model.UpstreamId, "load", "the upstream has no load API; it loads the model on the first request");
            return null;
        }

        var deployment = model.Deployments.Count > 0 ? model.Deployments[0] : new Deployment(UpstreamOf(model), model.UpstreamId, Configuration.ModelDefaults.None);
        if (await EnsureContextAsync(model, deployment, requestedContext, timeout.Token) is { } outcome)
        {
            return outcome.LoadDuration;
        }

        // No floor (or an embedding model): load with LM Studio's own settings. /load adds another instance even when
        // one is loaded, so look first.
        var upstream = UpstreamOf(model);
        if ((await LmStudioRest.FindAsync(upstream, model.UpstreamId, timeout))?.LoadedInstances is { Count: > 0 })
        {
            LoadingLog.Skipped(logger, model.UpstreamId, "load", "already loaded");
            return null;
        }

        var started = Stopwatch.GetTimestamp();
        await LmStudioRest.LoadAsync(upstream, model.UpstreamId, null, timeout);
        var elapsed = Stopwatch.GetElapsedTime(started);
        LoadingLog.Lifecycle(logger, "Loaded", model.UpstreamId, elapsed.TotalMilliseconds);
        await RefreshCatalogAsync();
        return elapsed;
    }

    /// <summary>Unloads every loaded instance of the model.</summary>
    public async Task<UnloadOutcome> UnloadAsync(CatalogModel model, ActivityTimeout timeout)
    {
        if (model.Source != CatalogSource.LmStudioV1)
        {
            return UnloadOutcome.Unsupported;
        }

        var upstream = UpstreamOf(model);
        var instances = (await LmStudioRest.FindAsync(upstream, model.UpstreamId, timeout))?.LoadedInstances?
            .Select(i => i.Id).Where(id => !string.IsNullOrEmpty(id)).Select(id => id!).ToList() ?? [];
        if (instances.Count == 0)
        {
            LoadingLog.Skipped(logger, model.UpstreamId, "unload", "not loaded");
            return UnloadOutcome.NotLoaded;
        }

        var started = Stopwatch.GetTimestamp();
        foreach (var instance in instances)
        {
            await LmStudioRest.UnloadAsync(upstream, instance, timeout);
        }

        _expiries.TryRemove(model.UpstreamId, out _);
        // Rare, and a deployment may name the model differently: forget every verdict rather than guess which.
        _verified.Clear();
        LoadingLog.Lifecycle(logger, "Unloaded", model.UpstreamId, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        await RefreshCatalogAsync();
        return UnloadOutcome.Unloaded;
    }

    /// <summary>
    /// <see cref="ContextOverflow.Explain"/> for a prompt the deployment refused, which also forgets what was verified
    /// about its context: the model may have been reloaded smaller since, so the next request checks LM Studio again.
    /// </summary>
    /// <returns>The explained failure, or null when <paramref name="failure"/> is not a context overflow.</returns>
    public UpstreamException? ExplainOverflow(UpstreamException failure, Deployment deployment, string clientModel, int? loadedContext, string fix)
    {
        if (ContextOverflow.Explain(failure, clientModel, loadedContext, fix) is not { } overflow)
        {
            return null;
        }

        _verified.TryRemove(KeyOf(deployment), out _);
        return overflow;
    }

    /// <summary>
    /// Notes that a request used the model with this idle TTL (Ollama's <c>keep_alive</c>, sent to LM Studio as <c>ttl</c>),
    /// so /api/ps can say when LM Studio will unload it. Null: the upstream's own TTL applies, which the proxy can't see.
    /// </summary>
    public void RecordUse(CatalogModel model, TimeSpan? keepAlive)
    {
        if (keepAlive is { } ttl && ttl > TimeSpan.Zero)
        {
            _expiries[model.UpstreamId] = time.GetUtcNow() + ttl;
        }
        else
        {
            _expiries.TryRemove(model.UpstreamId, out _);
        }
    }

    /// <summary>When LM Studio will unload the model after its last request, if the TTL is known.</summary>
    public DateTimeOffset? ExpiresAt(CatalogModel model) => _expiries.TryGetValue(model.UpstreamId, out var at) ? at : null;

    private bool IsLmStudioV1(CatalogModel model, UpstreamClient upstream) =>
        upstream == model.Upstream ? model.Source == CatalogSource.LmStudioV1
            : catalog.Upstreams.FirstOrDefault(s => s.Upstream == upstream)?.Source == CatalogSource.LmStudioV1;

    /// <summary>A model's lifecycle calls go to the upstream that serves it, which config.yaml may make another than LMSTUDIO_URL.</summary>
    private UpstreamClient UpstreamOf(CatalogModel model) => model.Upstream ?? defaultUpstream;

    /// <summary>After a load the request goes on at once; the catalog catches up beside it so /api/ps shows the new context.</summary>
    private void RefreshCatalogInBackground() =>
        RefreshCatalogAsync().ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    /// <summary>So /api/ps shows the change at once rather than at the next scheduled refresh; a failure here changes nothing for the caller.</summary>
    private async Task RefreshCatalogAsync()
    {
        try
        {
            await catalog.RefreshAsync();
        }
        catch (UpstreamException)
        {
            // The refresh loop reports upstream trouble; the load or unload itself succeeded.
        }
    }
}
