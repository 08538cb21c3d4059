using CopilotProxy.Catalog;
using CopilotProxy.Loading.Wire;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Loading;

/// <summary>One progress report of a download: LM Studio's status with the bytes it reports.</summary>
public readonly record struct DownloadProgress(string Status, long Total, long Completed);

/// <summary>
/// Downloads a model LM Studio does not have through <c>POST /api/v1/models/download</c>, following
/// <c>GET /api/v1/models/download/status/{job_id}</c> until it completes (docs/protocol.md §8.5), then refreshes the model catalog.
/// </summary>
public sealed class ModelDownloads(UpstreamClient defaultUpstream, ModelCatalog catalog, TimeProvider time, ILogger<ModelDownloads> logger)
{
    /// <summary>How often the download status is asked for; LM Studio updates it about once a second.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Whether the default upstream (LMSTUDIO_URL) can download: only LM Studio ≥0.4 has the API.</summary>
    public bool Supported => catalog.Upstreams.FirstOrDefault(s => s.Upstream == defaultUpstream)?.Source == CatalogSource.LmStudioV1;

    public Uri UpstreamUrl => defaultUpstream.BaseUrl;

    /// <summary>Each progress report of any download, whoever started it (the dashboard shows them).</summary>
    public event Action<string, DownloadProgress>? Progressed;

    /// <summary>A download that ended without completing, with the reason.</summary>
    public event Action<string, string>? Stopped;

    /// <summary>Downloads <paramref name="model"/>, reporting progress as LM Studio reports it.</summary>
    /// <exception cref="UpstreamException">LM Studio refused the download, or it failed or was paused; the message names the fix.</exception>
    public async Task PullAsync(string model, Func<DownloadProgress, ValueTask> progress, CancellationToken cancellationToken)
    {
        try
        {
            await PullCoreAsync(model, p =>
            {
                Progressed?.Invoke(model, p);
                return progress(p);
            }, cancellationToken);
        }
        catch (UpstreamException failure)
        {
            Stopped?.Invoke(model, failure.Message);
            throw;
        }
        catch (OperationCanceledException)
        {
            Stopped?.Invoke(model, "the client stopped following the download; LM Studio's Downloads panel shows whether it goes on");
            throw;
        }
    }

    private async Task PullCoreAsync(string model, Func<DownloadProgress, ValueTask> progress, CancellationToken cancellationToken)
    {
        using var timeout = new ActivityTimeout(defaultUpstream.IdleTimeout, cancellationToken);
        LmStudioDownloadJob job;
        try
        {
            job = await LmStudioRest.DownloadAsync(defaultUpstream, model, timeout);
        }
        catch (UpstreamException failure) when (failure.Failure is UpstreamFailure.Status)
        {
            throw Failed(model, failure.Url, failure.UpstreamMessage ?? failure.Message, failure);
        }

        LoadingLog.DownloadStarted(logger, model, job.Status ?? "started", job.TotalSizeBytes ?? 0);
        while (true)
        {
            var total = job.TotalSizeBytes ?? 0;
            switch (job.Status)
            {
                case "completed" or "already_downloaded":
                    await progress(new DownloadProgress(job.Status, total, total));
                    await RefreshCatalogAsync();
                    return;
                case "failed":
                    throw Failed(model, defaultUpstream.Resolve(LmStudioRest.DownloadPath), job.Error ?? "the download failed", null);
                case "paused":
                    throw Failed(model, defaultUpstream.Resolve(LmStudioRest.DownloadPath), "the download was paused; resume it in LM Studio's Downloads panel", null);
            }

            await progress(new DownloadProgress(job.Status ?? "downloading", total, job.DownloadedBytes ?? 0));
            if (string.IsNullOrEmpty(job.JobId))
            {
                throw new UpstreamException(UpstreamFailure.InvalidResponse,
                    $"LM Studio at {defaultUpstream.Resolve(LmStudioRest.DownloadPath)} started downloading {model} without a job_id to follow; watch it in LM Studio's Downloads panel.",
                    defaultUpstream.Resolve(LmStudioRest.DownloadPath), 200);
            }

            await Task.Delay(PollInterval, time, cancellationToken);
            var jobId = job.JobId;
            try
            {
                job = await LmStudioRest.DownloadStatusAsync(defaultUpstream, jobId, timeout);
            }
            catch (UpstreamException failure) when (failure.Failure is UpstreamFailure.Status)
            {
                // A failed job may carry an "error" field, which reads as an error answer: it is the download's reason.
                throw Failed(model, failure.Url, failure.UpstreamMessage ?? failure.Message, failure);
            }

            job.JobId ??= jobId;
            timeout.Touch();
        }
    }

    private UpstreamException Failed(string model, Uri url, string reason, UpstreamException? inner)
    {
        LoadingLog.DownloadFailed(logger, model, reason);
        return new UpstreamException(UpstreamFailure.Status,
            $"LM Studio at {url} could not download {model}: {reason}. Fix: name the model as LM Studio's catalog does (e.g. qwen/qwen3-8b, or a Hugging Face URL) or download it in LM Studio (Discover tab); check free disk space and LM Studio's Downloads panel, then pull again.",
            url, inner?.UpstreamStatus ?? 502, inner)
        {
            UpstreamMessage = reason,
        };
    }

    private async Task RefreshCatalogAsync()
    {
        try
        {
            await catalog.RefreshAsync();
        }
        catch (UpstreamException)
        {
            // The refresh loop reports upstream trouble; the download itself succeeded.
        }
    }
}
