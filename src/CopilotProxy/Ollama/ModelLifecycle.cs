using System.Diagnostics;
using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Catalog.Wire;
using CopilotProxy.OpenAI;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Ollama;

/// <summary>What an unload request achieved.</summary>
public enum UnloadOutcome
{
    Unloaded,
    NotLoaded,

    /// <summary>The upstream has no unload API (LM Studio before 0.4, or another OpenAI server).</summary>
    Unsupported,
}

/// <summary>
/// Ollama's explicit load (empty messages/prompt) and unload (<c>keep_alive:0</c>) through LM Studio's native
/// <c>/api/v1/models/load</c> and <c>/unload</c> (protocol.md §3.4). Older upstreams load just in time on the first request.
/// </summary>
public sealed class ModelLifecycle(UpstreamClient defaultUpstream, ModelCatalog catalog, ILogger<ModelLifecycle> logger)
{
    private const string ModelsPath = "api/v1/models";
    private const string LoadPath = "api/v1/models/load";
    private const string UnloadPath = "api/v1/models/unload";

    /// <summary>Loads the model unless it is loaded already; returns how long the load call took, or null when nothing was loaded.</summary>
    public async Task<TimeSpan?> LoadAsync(CatalogModel model, ActivityTimeout timeout)
    {
        if (model.Source != CatalogSource.LmStudioV1)
        {
            OllamaLog.LifecycleSkipped(logger, model.UpstreamId, "load", "the upstream has no load API; it loads the model on the first request");
            return null;
        }

        // /api/v1/models/load adds another instance even when one is loaded, so look first.
        if ((await InstancesAsync(model, timeout)).Count > 0)
        {
            OllamaLog.LifecycleSkipped(logger, model.UpstreamId, "load", "already loaded");
            return null;
        }

        var started = Stopwatch.GetTimestamp();
        await PostAsync(UpstreamOf(model), LoadPath, "model", model.UpstreamId, timeout);
        var elapsed = Stopwatch.GetElapsedTime(started);
        OllamaLog.Lifecycle(logger, "Loaded", model.UpstreamId, elapsed.TotalMilliseconds);
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

        var instances = await InstancesAsync(model, timeout);
        if (instances.Count == 0)
        {
            OllamaLog.LifecycleSkipped(logger, model.UpstreamId, "unload", "not loaded");
            return UnloadOutcome.NotLoaded;
        }

        var started = Stopwatch.GetTimestamp();
        foreach (var instance in instances)
        {
            await PostAsync(UpstreamOf(model), UnloadPath, "instance_id", instance, timeout);
        }

        OllamaLog.Lifecycle(logger, "Unloaded", model.UpstreamId, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        await RefreshCatalogAsync();
        return UnloadOutcome.Unloaded;
    }

    /// <summary>A model's lifecycle calls go to the upstream that serves it, which config.yaml may make another than LMSTUDIO_URL.</summary>
    private UpstreamClient UpstreamOf(CatalogModel model) => model.Upstream ?? defaultUpstream;

    private async Task<List<string>> InstancesAsync(CatalogModel model, ActivityTimeout timeout)
    {
        var upstream = UpstreamOf(model);
        using var response = await upstream.GetAsync(ModelsPath, timeout);
        var url = upstream.Resolve(ModelsPath);
        if (!response.IsSuccessStatusCode)
        {
            throw await UpstreamErrors.FromStatusAsync(response, url, timeout.Token);
        }

        var (list, failure) = await UpstreamPipeline.ReadJsonAsync(new UpstreamAnswer(response, timeout, url, upstream), CatalogJsonContext.Default.LmStudioV1ModelList);
        if (list is null)
        {
            throw failure!;
        }

        var entry = list?.Models?.FirstOrDefault(m => string.Equals(m.Key, model.UpstreamId, StringComparison.OrdinalIgnoreCase));
        return entry?.LoadedInstances?.Select(i => i.Id).Where(id => !string.IsNullOrEmpty(id)).Select(id => id!).ToList() ?? [];
    }

    private static async Task PostAsync(UpstreamClient upstream, string path, string field, string value, ActivityTimeout timeout)
    {
        using var body = new PooledBufferWriter(256);
        using (var writer = new Utf8JsonWriter(body, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString(field, value);
            writer.WriteEndObject();
        }

        using var response = await upstream.PostJsonAsync(path, body.WrittenMemory, timeout);
        if (!response.IsSuccessStatusCode)
        {
            throw await UpstreamErrors.FromStatusAsync(response, upstream.Resolve(path), timeout.Token);
        }
    }

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
