using System.Collections.Concurrent;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Dashboard.Wire;
using CopilotProxy.Ollama;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Dashboard;

/// <summary>
/// Loads and unloads started from the page: each runs in the background as a <see cref="ModelJob"/> the page watches, so
/// a load that takes minutes survives the page being closed or reloaded. The lifecycle itself is
/// <see cref="ModelLifecycle"/>'s (LM Studio's native load and unload); this is only the seam the page drives it through.
/// </summary>
public sealed class ModelActions(ModelLifecycle lifecycle, ProxySettings settings, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<ModelActions> logger)
{
    private readonly ConcurrentDictionary<string, ModelJob> _jobs = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Raised whenever a job starts or ends.</summary>
    public event Action<ModelJob>? Changed;

    /// <summary>The latest job per model, running or finished.</summary>
    public IReadOnlyList<ModelJob> Jobs => [.. _jobs.Values.OrderBy(j => j.StartedAt)];

    /// <summary>Starts a load or unload unless one is already running for the model; returns the job that runs.</summary>
    public ModelJob Start(CatalogModel model, bool load)
    {
        var job = new ModelJob(model.Id, load ? "load" : "unload", ModelJobState.Running, null, time.GetUtcNow(), null, null);
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
        using var timeout = new ActivityTimeout(settings.UpstreamIdleTimeout, lifetime.ApplicationStopping);
        try
        {
            string message;
            if (job.Action == "load")
            {
                message = await lifecycle.LoadAsync(model, timeout) is { } took
                    ? $"loaded in {took.TotalSeconds:0.0} s"
                    : model.Source == CatalogSource.LmStudioV1 ? "already loaded" : "this upstream loads models on their first request";
            }
            else
            {
                message = await lifecycle.UnloadAsync(model, timeout) switch
                {
                    UnloadOutcome.Unloaded => "unloaded",
                    UnloadOutcome.NotLoaded => "was not loaded",
                    _ => "this upstream has no unload API",
                };
            }

            finished = job with { State = ModelJobState.Done, Message = message, FinishedAt = time.GetUtcNow(), Progress = 1 };
        }
        catch (UpstreamException failure)
        {
            finished = job with { State = ModelJobState.Failed, Message = failure.Message, FinishedAt = time.GetUtcNow() };
            DashboardLog.ActionFailed(logger, job.Action, model.UpstreamId, failure.Message);
        }

        _jobs[model.Id] = finished;
        Changed?.Invoke(finished);
    }
}
