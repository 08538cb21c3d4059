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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromSeconds(1);
        var wasDown = false;
        while (true)
        {
            TimeSpan wait;
            try
            {
                var snapshot = await catalog.RefreshAsync(stoppingToken);
                if (wasDown)
                {
                    CatalogLog.UpstreamRecovered(logger, settings.LmStudioUrl, snapshot.Models.Count);
                }

                wasDown = false;
                backoff = TimeSpan.FromSeconds(1);
                wait = settings.ModelRefreshInterval;
            }
            catch (UpstreamException failure)
            {
                // One clear line when the upstream goes away, then quiet retries: a stack trace every few seconds helps nobody.
                if (!wasDown)
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
