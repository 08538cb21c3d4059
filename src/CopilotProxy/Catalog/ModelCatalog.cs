using System.Net;
using System.Text.Json;
using CopilotProxy.Catalog.Wire;
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
        var bare = name.EndsWith(":latest", StringComparison.OrdinalIgnoreCase) ? name[..^":latest".Length] : name;
        foreach (var model in Models)
        {
            if (model.Id.Equals(name, StringComparison.OrdinalIgnoreCase) || model.Id.Equals(bare, StringComparison.OrdinalIgnoreCase))
            {
                return model;
            }
        }

        return null;
    }
}

/// <summary>
/// The model catalog: discovers the upstream's models from the richest API it offers (LM Studio /api/v1, then /api/v0,
/// then plain OpenAI /v1/models) and keeps the latest snapshot.
/// </summary>
public sealed class ModelCatalog(UpstreamClient upstream, TimeProvider time, ILogger<ModelCatalog> logger)
{
    /// <summary>A request for an unknown model refreshes at most this often, so a client looping on a typo can't hammer the upstream.</summary>
    private static readonly TimeSpan MinRefreshSpacing = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan DiscoveryTimeout = TimeSpan.FromSeconds(15);

    private readonly Lock _gate = new();
    private Task<CatalogSnapshot>? _inflight;
    private volatile CatalogSnapshot? _snapshot;
    private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;

    public CatalogSnapshot? Current => _snapshot;

    /// <summary>The last refresh failure, or null when the last refresh worked.</summary>
    public UpstreamException? LastFailure { get; private set; }

    public DateTimeOffset? LastSuccess { get; private set; }

    /// <summary>Raised after every refresh attempt; the pre-flight summary and metrics listen.</summary>
    public event Action<CatalogSnapshot?, UpstreamException?>? Refreshed;

    /// <summary>Refreshes now; concurrent callers share one upstream round trip.</summary>
    public Task<CatalogSnapshot> RefreshAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_inflight is { IsCompleted: false } running)
            {
                return running.WaitAsync(cancellationToken);
            }

            _lastAttempt = time.GetUtcNow();
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

        if (snapshot is null || time.GetUtcNow() - _lastAttempt >= MinRefreshSpacing)
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
        try
        {
            var snapshot = await DiscoverAsync();
            _snapshot = snapshot;
            LastFailure = null;
            LastSuccess = snapshot.RefreshedAt;
            Refreshed?.Invoke(snapshot, null);
            return snapshot;
        }
        catch (UpstreamException failure)
        {
            LastFailure = failure;
            Refreshed?.Invoke(_snapshot, failure);
            throw;
        }
    }

    private async Task<CatalogSnapshot> DiscoverAsync()
    {
        var previous = _snapshot;
        var now = time.GetUtcNow();

        // Step 1: LM Studio ≥0.4 native API, the only one with loaded context, tool training and reasoning.
        var v1 = await TryGetAsync("api/v1/models", CatalogJsonContext.Default.LmStudioV1ModelList);
        if (v1?.Models is { } v1Models)
        {
            return new CatalogSnapshot(Stamp(v1Models.Where(m => !string.IsNullOrEmpty(m.Key)).Select(FromV1), previous, now), CatalogSource.LmStudioV1, now);
        }

        // Step 2: LM Studio 0.3.x native API. LM Studio answers unknown endpoints with 200 and an error body, so a
        // missing "data" array, not the status, is what tells us this API is absent.
        var v0 = await TryGetAsync("api/v0/models", CatalogJsonContext.Default.LmStudioV0ModelList);
        if (v0?.Data is { } v0Models)
        {
            return new CatalogSnapshot(Stamp(v0Models.Where(m => !string.IsNullOrEmpty(m.Id)).Select(FromV0), previous, now), CatalogSource.LmStudioV0, now);
        }

        // Step 3: any OpenAI-compatible server. This one must work, so its failures are reported rather than skipped.
        var openAI = await GetRequiredAsync("v1/models", CatalogJsonContext.Default.OpenAIModelListing);
        if (openAI.Data is not { } data)
        {
            throw new UpstreamException(UpstreamFailure.InvalidResponse,
                $"The upstream at {upstream.Resolve("v1/models")} answered without a \"data\" list of models. Is LMSTUDIO_URL pointing at an OpenAI-compatible server?",
                upstream.Resolve("v1/models"));
        }

        return new CatalogSnapshot(Stamp(data.Where(m => !string.IsNullOrEmpty(m.Id)).Select(FromOpenAI), previous, now), CatalogSource.OpenAI, now);
    }

    private async Task<T?> TryGetAsync<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        using var timeout = new ActivityTimeout(DiscoveryTimeout, CancellationToken.None);
        using var response = await upstream.GetAsync(path, timeout);
        if (!response.IsSuccessStatusCode)
        {
            CatalogLog.SourceUnavailable(logger, path, (int)response.StatusCode);
            return null;
        }

        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            return await JsonSerializer.DeserializeAsync(body, typeInfo, timeout.Token);
        }
        catch (JsonException ex)
        {
            CatalogLog.SourceUnreadable(logger, path, ex.Message);
            return null;
        }
    }

    private async Task<T> GetRequiredAsync<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        using var timeout = new ActivityTimeout(DiscoveryTimeout, CancellationToken.None);
        using var response = await upstream.GetAsync(path, timeout);
        var url = upstream.Resolve(path);
        if (!response.IsSuccessStatusCode)
        {
            throw await UpstreamErrors.FromStatusAsync(response, url, timeout.Token);
        }

        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            return await JsonSerializer.DeserializeAsync(body, typeInfo, timeout.Token)
                ?? throw new JsonException("empty body");
        }
        catch (JsonException ex)
        {
            throw new UpstreamException(UpstreamFailure.InvalidResponse,
                $"The upstream at {url} did not answer with a JSON model list ({ex.Message}). Is LMSTUDIO_URL pointing at an OpenAI-compatible server?",
                url, (int)HttpStatusCode.OK, ex);
        }
    }

    private static List<CatalogModel> Stamp(IEnumerable<CatalogModel> models, CatalogSnapshot? previous, DateTimeOffset now) =>
        models.Select(m => m with { FirstSeen = previous?.Find(m.Id)?.FirstSeen ?? now }).ToList();

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
