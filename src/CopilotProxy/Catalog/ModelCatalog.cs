using System.Net;
using System.Text.Json;
using CopilotProxy.Catalog.Wire;
using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Catalog;

/// <summary>An immutable view of the upstream's models at one refresh.</summary>
public sealed record CatalogSnapshot(IReadOnlyList<CatalogModel> Models, CatalogSource Source, DateTimeOffset RefreshedAt)
{
    /// <summary>Finds a model by its upstream key or its Ollama name; <c>name</c> and <c>name:latest</c> are the same model.</summary>
    public CatalogModel? Find(string name)
    {
        // Runs on every request (Copilot always sends name:latest), so the tag is stripped on a span, not into a new string.
        var bare = name.EndsWith(":latest", StringComparison.OrdinalIgnoreCase) ? name.AsSpan(0, name.Length - ":latest".Length) : name.AsSpan();
        foreach (var model in Models)
        {
            if (model.Id.Equals(name, StringComparison.OrdinalIgnoreCase) || model.Id.AsSpan().Equals(bare, StringComparison.OrdinalIgnoreCase))
            {
                return model;
            }
        }

        return null;
    }
}

/// <summary>What one upstream reported at its last discovery.</summary>
public sealed record UpstreamStatus(
    UpstreamClient Upstream, CatalogSource? Source, IReadOnlyList<CatalogModel> Models, DateTimeOffset? LastSuccess, UpstreamException? LastFailure);

/// <summary>
/// The model catalog: discovers each upstream's models from the richest API it offers (LM Studio /api/v1, then /api/v0,
/// then plain OpenAI /v1/models) and publishes one view for both front doors: config.yaml's aliases and groups, plus
/// every discovered model where the configuration asks for them (no entries at all, or a wildcard entry).
/// </summary>
public sealed class ModelCatalog
{
    /// <summary>A request for an unknown model refreshes at most this often, so a client looping on a typo can't hammer the upstream.</summary>
    private static readonly TimeSpan MinRefreshSpacing = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan DiscoveryTimeout = TimeSpan.FromSeconds(15);

    private readonly UpstreamRegistry _upstreams;
    private readonly GatewayConfigHolder _config;
    private readonly ProxySettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelCatalog> _logger;
    private readonly Lock _gate = new();
    private Task<CatalogSnapshot>? _inflight;
    private volatile CatalogSnapshot? _snapshot;
    private volatile IReadOnlyList<UpstreamStatus> _statuses = [];
    private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;

    public ModelCatalog(UpstreamRegistry upstreams, GatewayConfigHolder config, ProxySettings settings, TimeProvider time, ILogger<ModelCatalog> logger)
    {
        _upstreams = upstreams;
        _config = config;
        _settings = settings;
        _time = time;
        _logger = logger;
        // A new configuration may name other upstreams and aliases: rediscover rather than serve the old view.
        config.Changed += OnConfigChanged;
    }

    public CatalogSnapshot? Current => _snapshot;

    private void OnConfigChanged(GatewayConfig next) =>
        // Observed so a failing upstream does not surface as an unobserved task exception; the refresh loop reports it.
        RefreshAsync().ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    /// <summary>The failure of the last refresh when every upstream failed, or null when at least one answered.</summary>
    public UpstreamException? LastFailure { get; private set; }

    /// <summary>When an upstream last answered a discovery.</summary>
    public DateTimeOffset? LastSuccess { get; private set; }

    /// <summary>Per upstream of the configuration in force, what its last discovery found.</summary>
    public IReadOnlyList<UpstreamStatus> Upstreams => _statuses;

    /// <summary>Raised after every refresh attempt; the pre-flight summary and metrics listen.</summary>
    public event Action<CatalogSnapshot?, UpstreamException?>? Refreshed;

    /// <summary>Refreshes now; concurrent callers share one round of upstream requests.</summary>
    public Task<CatalogSnapshot> RefreshAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_inflight is { IsCompleted: false } running)
            {
                return running.WaitAsync(cancellationToken);
            }

            _lastAttempt = _time.GetUtcNow();
            _inflight = RefreshCoreAsync();
            return _inflight.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Finds a model, refreshing once first when it is unknown (it may have been downloaded since the last refresh).</summary>
    public async ValueTask<CatalogModel?> FindAsync(string name, CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (snapshot?.Find(name) is { } known)
        {
            return known;
        }

        if (snapshot is null || _time.GetUtcNow() - _lastAttempt >= MinRefreshSpacing)
        {
            snapshot = await RefreshAsync(cancellationToken);
        }

        return snapshot.Find(name);
    }

    /// <summary>The snapshot, fetching it first if none was ever taken; throws the upstream failure when there is none.</summary>
    public async ValueTask<CatalogSnapshot> GetAsync(CancellationToken cancellationToken) =>
        _snapshot ?? await RefreshAsync(cancellationToken);

    private async Task<CatalogSnapshot> RefreshCoreAsync()
    {
        var config = _config.Current;
        var upstreams = _upstreams.ForConfig(config);
        var previous = _statuses;
        var statuses = await Task.WhenAll(upstreams.Select(u => DiscoverOneAsync(u, previous.FirstOrDefault(p => p.Upstream == u))));
        _statuses = statuses;

        var answered = statuses.Where(s => s.LastFailure is null).ToList();
        if (answered.Count == 0)
        {
            var failure = statuses.Select(s => s.LastFailure).FirstOrDefault(f => f is not null)
                ?? new UpstreamException(UpstreamFailure.Connect, "No upstream is configured.", _upstreams.Default.BaseUrl);
            LastFailure = failure;
            Refreshed?.Invoke(_snapshot, failure);
            throw failure;
        }

        var now = _time.GetUtcNow();
        var models = CatalogView.Build(config, _upstreams.For, statuses);
        var prior = _snapshot;
        models = models.Select(m => m with
        {
            FirstSeen = prior?.Find(m.Id)?.FirstSeen ?? m.FirstSeen,
            MinContextLength = m.MinContextLength ?? _settings.MinContextLength,
        }).ToList();
        var source = (statuses.FirstOrDefault(s => s.Upstream.Target.IsDefault && s.Source is not null) ?? answered[0]).Source!.Value;
        var snapshot = new CatalogSnapshot(models, source, now);
        _snapshot = snapshot;
        LastFailure = null;
        LastSuccess = answered.Max(s => s.LastSuccess);
        Refreshed?.Invoke(snapshot, null);
        return snapshot;
    }

    private async Task<UpstreamStatus> DiscoverOneAsync(UpstreamClient upstream, UpstreamStatus? previous)
    {
        try
        {
            var (source, models) = await DiscoverAsync(upstream, previous?.Models ?? []);
            return new UpstreamStatus(upstream, source, models, _time.GetUtcNow(), null);
        }
        catch (UpstreamException failure)
        {
            // Keep what it reported before: one failed refresh should not make its models vanish from the view.
            return new UpstreamStatus(upstream, previous?.Source, previous?.Models ?? [], previous?.LastSuccess, failure);
        }
    }

    private async Task<(CatalogSource, List<CatalogModel>)> DiscoverAsync(UpstreamClient upstream, IReadOnlyList<CatalogModel> previous)
    {
        var now = _time.GetUtcNow();

        // Step 1: LM Studio ≥0.4 native API, the only one with loaded context, tool training and reasoning.
        var v1 = await TryGetAsync(upstream, "api/v1/models", CatalogJsonContext.Default.LmStudioV1ModelList);
        if (v1?.Models is { } v1Models)
        {
            upstream.Kind = UpstreamKind.LmStudio;
            return (CatalogSource.LmStudioV1, Stamp(v1Models.Where(m => !string.IsNullOrEmpty(m.Key)).Select(FromV1), previous, now));
        }

        // Step 2: LM Studio 0.3.x native API. LM Studio answers unknown endpoints with 200 and an error body, so a
        // missing "data" array, not the status, is what tells us this API is absent.
        var v0 = await TryGetAsync(upstream, "api/v0/models", CatalogJsonContext.Default.LmStudioV0ModelList);
        if (v0?.Data is { } v0Models)
        {
            upstream.Kind = UpstreamKind.LmStudio;
            return (CatalogSource.LmStudioV0, Stamp(v0Models.Where(m => !string.IsNullOrEmpty(m.Id)).Select(FromV0), previous, now));
        }

        // Step 3: any OpenAI-compatible server. This one must work, so its failures are reported rather than skipped.
        var openAI = await GetRequiredAsync(upstream, "v1/models", CatalogJsonContext.Default.OpenAIModelListing);
        if (openAI.Data is not { } data)
        {
            var url = upstream.Resolve("v1/models");
            throw new UpstreamException(UpstreamFailure.InvalidResponse,
                $"The upstream at {url} answered without a \"data\" list of models. {WhichSetting(upstream)}", url);
        }

        // llama.cpp's server marks its listing with a meta block (n_ctx, n_ctx_train) and owned_by "llamacpp".
        upstream.Kind = data.Any(m => m.Meta is not null || m.OwnedBy == "llamacpp") ? UpstreamKind.LlamaCpp : UpstreamKind.OpenAICompatible;
        return (CatalogSource.OpenAI, Stamp(data.Where(m => !string.IsNullOrEmpty(m.Id)).Select(FromOpenAI), previous, now));
    }

    private static string WhichSetting(UpstreamClient upstream) => upstream.Target.IsDefault
        ? "Is LMSTUDIO_URL pointing at an OpenAI-compatible server?"
        : "Is the api_base in config.yaml pointing at an OpenAI-compatible server?";

    private async Task<T?> TryGetAsync<T>(UpstreamClient upstream, string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        using var timeout = new ActivityTimeout(DiscoveryTimeout, CancellationToken.None);
        using var response = await upstream.GetAsync(path, timeout);
        if (!response.IsSuccessStatusCode)
        {
            CatalogLog.SourceUnavailable(_logger, path, (int)response.StatusCode);
            return null;
        }

        var (list, failure) = await UpstreamPipeline.ReadJsonAsync(new UpstreamAnswer(response, timeout, upstream.Resolve(path), upstream), typeInfo);
        if (failure is { Failure: UpstreamFailure.InvalidResponse })
        {
            CatalogLog.SourceUnreadable(_logger, path, failure.Message);
            return null;
        }

        return list ?? throw failure!;
    }

    private static async Task<T> GetRequiredAsync<T>(UpstreamClient upstream, string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        using var timeout = new ActivityTimeout(DiscoveryTimeout, CancellationToken.None);
        using var response = await upstream.GetAsync(path, timeout);
        var url = upstream.Resolve(path);
        if (!response.IsSuccessStatusCode)
        {
            throw await UpstreamErrors.FromStatusAsync(response, url, upstream, timeout.Token);
        }

        var (list, failure) = await UpstreamPipeline.ReadJsonAsync(new UpstreamAnswer(response, timeout, url, upstream), typeInfo);
        return list ?? throw (failure!.Failure == UpstreamFailure.InvalidResponse
            ? new UpstreamException(UpstreamFailure.InvalidResponse, $"{failure.Message} A model list was expected. {WhichSetting(upstream)}", url, (int)HttpStatusCode.OK, failure)
            : failure);
    }

    private static List<CatalogModel> Stamp(IEnumerable<CatalogModel> models, IReadOnlyList<CatalogModel> previous, DateTimeOffset now) =>
        models.Select(m => m with { FirstSeen = previous.FirstOrDefault(p => p.Id.Equals(m.Id, StringComparison.OrdinalIgnoreCase))?.FirstSeen ?? now }).ToList();

    private static CatalogModel FromV1(LmStudioV1Model m)
    {
        var loaded = m.LoadedInstances is { Count: > 0 } instances ? instances[0].Config?.ContextLength : null;
        var reasoning = m.Capabilities?.Reasoning is { ValueKind: JsonValueKind.Object or JsonValueKind.True };
        return new CatalogModel
        {
            Id = m.Key!,
            Kind = IsEmbedding(m.Type) ? ModelKind.Embedding : ModelKind.Llm,
            DisplayName = m.DisplayName,
            Architecture = m.Architecture,
            Publisher = m.Publisher,
            Format = m.Format,
            Quantization = m.Quantization?.Name,
            ParameterSize = m.ParamsString,
            SizeBytes = m.SizeBytes ?? 0,
            MaxContextLength = m.MaxContextLength,
            LoadedContextLength = loaded,
            Loaded = m.LoadedInstances is { Count: > 0 },
            LoadedParallel = m.LoadedInstances is { Count: > 0 } loadedInstances ? loadedInstances[0].Config?.Parallel : null,
            Tools = m.Capabilities?.TrainedForToolUse == true,
            Vision = m.Capabilities?.Vision == true,
            Thinking = reasoning,
        };
    }

    private static CatalogModel FromV0(LmStudioV0Model m)
    {
        var loaded = string.Equals(m.State, "loaded", StringComparison.OrdinalIgnoreCase);
        return new CatalogModel
        {
            Id = m.Id!,
            Kind = IsEmbedding(m.Type) ? ModelKind.Embedding : ModelKind.Llm,
            Architecture = m.Arch,
            Publisher = m.Publisher,
            Format = m.CompatibilityType,
            Quantization = m.Quantization,
            MaxContextLength = m.MaxContextLength,
            LoadedContextLength = loaded ? m.LoadedContextLength : null,
            Loaded = loaded,
            Tools = m.Capabilities?.Contains("tool_use", StringComparer.OrdinalIgnoreCase) == true,
            Vision = string.Equals(m.Type, "vlm", StringComparison.OrdinalIgnoreCase),
        };
    }

    private static CatalogModel FromOpenAI(OpenAIModelListingEntry m)
    {
        // A plain OpenAI server says nothing about capabilities. Without "tools" Copilot hides the model from agent
        // mode, and every OpenAI-compatible server we relay to accepts the tools field, so tools are advertised;
        // docs/configuration.md shows how to override this per model.
        var embedding = m.Id!.Contains("embed", StringComparison.OrdinalIgnoreCase);
        return new CatalogModel
        {
            Id = m.Id,
            Kind = embedding ? ModelKind.Embedding : ModelKind.Llm,
            Publisher = m.OwnedBy,
            SizeBytes = m.Meta?.Size ?? 0,
            MaxContextLength = m.Meta?.NCtxTrain,
            LoadedContextLength = m.Meta?.NCtx,
            Loaded = m.Meta?.NCtx is not null,
            Tools = !embedding,
        };
    }

    private static bool IsEmbedding(string? type) =>
        type is not null && type.StartsWith("embedding", StringComparison.OrdinalIgnoreCase);
}
