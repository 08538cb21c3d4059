using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Catalog;

/// <summary>Keeps the model catalog fresh: at start, every MODEL_REFRESH_INTERVAL, and with backoff while the upstream is down.</summary>
public sealed class CatalogRefreshService(ModelCatalog catalog, ProxySettings settings, TimeProvider time, ILogger<CatalogRefreshService> logger)
    : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A failure before the upstream was ever reached, because nothing listens there yet: LM Studio not started. Preflight
    /// explains it once (what the proxy waits for, how to start LM Studio, the VS Code setting); this service stays quiet.
    /// </summary>
    public static bool IsFirstWait(bool reached, UpstreamException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return !reached && failure.Failure == UpstreamFailure.Connect;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping is not a failure. When the host gives up starting (a port in use), it cancels this service without
            // a stop, and would log the cancellation as a crash that buries the real reason (Hosting/StartFailures.cs).
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(1);
        var wasDown = false;
        var reached = false;
        while (true)
        {
            TimeSpan wait;
            try
            {
                var snapshot = await catalog.RefreshAsync(stoppingToken);
                // The first arrival after a first-run wait is Preflight's line ("LM Studio is up").
                if (wasDown && reached)
                {
                    CatalogLog.UpstreamRecovered(logger, settings.LmStudioUrl, snapshot.Models.Count);
                }

                wasDown = false;
                reached = true;
                backoff = TimeSpan.FromSeconds(1);
                wait = settings.ModelRefreshInterval;
            }
            catch (UpstreamException failure)
            {
                // One clear line when the upstream goes away, then quiet retries: a stack trace every few seconds helps nobody.
                // A first wait for an LM Studio not started yet is explained by Preflight's three first-run lines instead.
                if (!wasDown && !IsFirstWait(reached, failure))
                {
                    CatalogLog.UpstreamDown(logger, failure.Message);
                }
                else
                {
                    CatalogLog.StillDown(logger, failure.Message, backoff.TotalSeconds);
                }

                wasDown = true;
                wait = backoff < settings.ModelRefreshInterval ? backoff : settings.ModelRefreshInterval;
                backoff = backoff * 2 < MaxBackoff ? backoff * 2 : MaxBackoff;
            }

            await Task.Delay(wait, time, stoppingToken);
        }
    }
}
