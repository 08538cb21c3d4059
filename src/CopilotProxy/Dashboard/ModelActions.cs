using System.Collections.Concurrent;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Dashboard.Wire;
using CopilotProxy.Loading;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Dashboard;

/// <summary>
/// Loads and unloads started from the page, and downloads started through /api/pull: each runs in the background as a <see cref="ModelJob"/> the page watches, so
/// a load that takes minutes survives the page being closed or reloaded. The lifecycle itself is
/// <see cref="ModelLifecycle"/>'s (LM Studio's native load and unload); this is only the seam the page drives it through.
/// </summary>
public sealed class ModelActions : IDisposable
{
    private readonly ConcurrentDictionary<string, ModelJob> _jobs = new(StringComparer.OrdinalIgnoreCase);
    private readonly ModelLifecycle _lifecycle;
    private readonly ModelDownloads _downloads;
    private readonly ProxySettings _settings;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly TimeProvider _time;
    private readonly ILogger<ModelActions> _logger;

    public ModelActions(ModelLifecycle lifecycle, ModelDownloads downloads, ProxySettings settings, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<ModelActions> logger)
    {
        _lifecycle = lifecycle;
        _downloads = downloads;
        _settings = settings;
        _lifetime = lifetime;
        _time = time;
        _logger = logger;
        // Downloads start at /api/pull (a client's `ollama pull`); the page follows them as jobs too.
        downloads.Progressed += OnDownloadProgress;
        downloads.Stopped += OnDownloadStopped;
    }

    /// <summary>Raised whenever a job starts or ends.</summary>
    public event Action<ModelJob>? Changed;

    /// <summary>The latest job per model, running or finished.</summary>
    public IReadOnlyList<ModelJob> Jobs => [.. _jobs.Values.OrderBy(j => j.StartedAt)];

    /// <summary>Starts a load or unload unless one is already running for the model; returns the job that runs.</summary>
    public ModelJob Start(CatalogModel model, bool load)
    {
        var job = new ModelJob(model.Id, load ? "load" : "unload", ModelJobState.Running, null, _time.GetUtcNow(), null, null);
        while (true)
        {
            if (_jobs.TryGetValue(model.Id, out var current))
            {
                if (current.State == ModelJobState.Running)
                {
                    return current;
                }

                if (!_jobs.TryUpdate(model.Id, job, current))
                {
                    continue;
                }
            }
            else if (!_jobs.TryAdd(model.Id, job))
            {
                continue;
            }

            break;
        }

        Changed?.Invoke(job);
        _ = Task.Run(() => RunAsync(model, job));
        return job;
    }

    private async Task RunAsync(CatalogModel model, ModelJob job)
    {
        ModelJob finished;
        // A load may take minutes: only upstream silence ends it, as for requests; shutting down the proxy ends it too.
        using var timeout = new ActivityTimeout(_settings.UpstreamIdleTimeout, _lifetime.ApplicationStopping);
        try
        {
            string message;
            if (job.Action == "load")
            {
                message = await _lifecycle.LoadAsync(model, timeout) is { } took
                    ? $"loaded in {took.TotalSeconds:0.0} s"
                    : model.Source == CatalogSource.LmStudioV1 ? "already loaded" : "this upstream loads models on their first request";
            }
            else
            {
                message = await _lifecycle.UnloadAsync(model, timeout) switch
                {
                    UnloadOutcome.Unloaded => "unloaded",
                    UnloadOutcome.NotLoaded => "was not loaded",
                    _ => "this upstream has no unload API",
                };
            }

            finished = job with { State = ModelJobState.Done, Message = message, FinishedAt = _time.GetUtcNow(), Progress = 1 };
        }
        catch (UpstreamException failure)
        {
            finished = job with { State = ModelJobState.Failed, Message = failure.Message, FinishedAt = _time.GetUtcNow() };
            DashboardLog.ActionFailed(_logger, job.Action, model.UpstreamId, failure.Message);
        }

        _jobs[model.Id] = finished;
        Changed?.Invoke(finished);
    }

    public void Dispose()
    {
        _downloads.Progressed -= OnDownloadProgress;
        _downloads.Stopped -= OnDownloadStopped;
    }

    private void OnDownloadProgress(string model, DownloadProgress progress)
    {
        var done = progress.Status is "completed" or "already_downloaded";
        var started = _jobs.TryGetValue(model, out var current) && current.Action == "download" && current.State == ModelJobState.Running ? current.StartedAt : _time.GetUtcNow();
        var job = new ModelJob(model, "download", done ? ModelJobState.Done : ModelJobState.Running, done ? "downloaded" : progress.Status, started,
            done ? _time.GetUtcNow() : null, progress.Total > 0 ? Math.Round((double)progress.Completed / progress.Total, 3) : null);
        _jobs[model] = job;
        Changed?.Invoke(job);
    }

    private void OnDownloadStopped(string model, string reason)
    {
        var started = _jobs.TryGetValue(model, out var current) ? current.StartedAt : _time.GetUtcNow();
        var job = new ModelJob(model, "download", ModelJobState.Failed, reason, started, _time.GetUtcNow(), null);
        _jobs[model] = job;
        Changed?.Invoke(job);
    }
}
