using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Diagnostics;

/// <summary>
/// The start-up pre-flight: once the model catalog first reaches the upstream (and again whenever it comes back after being
/// down), logs a short summary of its models and the VS Code setting to use.
/// </summary>
/// <remarks>
/// When LM Studio is down the catalog refresh loop already logs the one clear line with the fix and retries with backoff;
/// repeating it here would be noise, so a failed refresh only arms the next summary.
/// </remarks>
public sealed class Preflight : IHostedService
{
    private readonly ProxySettings _settings;
    private readonly ModelCatalog _catalog;
    private readonly ILogger<Preflight> _logger;
    private bool _summaryDue = true;

    public Preflight(ProxySettings settings, ModelCatalog catalog, ILogger<Preflight> logger)
    {
        _settings = settings;
        _catalog = catalog;
        _logger = logger;
        // Subscribed here, not in StartAsync: the first refresh may finish before this service is started.
        catalog.Refreshed += OnRefreshed;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        PreflightLog.VsCode(_logger, UpstreamChecks.VsCodeSetting(_settings));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _catalog.Refreshed -= OnRefreshed;
        return Task.CompletedTask;
    }

    private void OnRefreshed(CatalogSnapshot? snapshot, UpstreamException? failure)
    {
        if (failure is not null)
        {
            _summaryDue = true;
            return;
        }

        if (!_summaryDue)
        {
            return;
        }

        _summaryDue = false;
        foreach (var check in UpstreamChecks.Evaluate(_settings, snapshot, null))
        {
            if (check.Status == CheckStatus.Fail)
            {
                PreflightLog.Problem(_logger, check.Symbol, check.Title, check.Fix ?? string.Empty);
            }
            else
            {
                PreflightLog.Finding(_logger, check.Symbol, check.Title);
            }
        }
    }
}
