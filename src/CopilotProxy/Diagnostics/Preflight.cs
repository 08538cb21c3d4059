using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Diagnostics;

/// <summary>
/// The start-up pre-flight: once the model catalog first reaches the upstream (and again whenever it comes back after being
/// down), logs a short summary of its models; and, the first time only, the VS Code setting to use.
/// </summary>
/// <remarks>
/// A person starting the proxy before LM Studio sees three lines, once: what it waits for, how to start LM Studio's server,
/// and the VS Code setting; then one line when LM Studio appears. CatalogRefreshService stays quiet for that first wait
/// (its retries are at Debug anyway) and keeps its own lines for an upstream that goes away later.
/// Nothing is said before the host has started: the first refresh can finish while Kestrel is still binding, and a start
/// that then fails on a port must not leave "the proxy is up" and a VS Code URL of another program's port above its
/// failure line. The last refresh seen before the start is said by <see cref="HostStarted"/>, which the host calls after
/// its own "listening" lines.
/// </remarks>
public sealed class Preflight : IHostedService
{
    private readonly ProxySettings _settings;
    private readonly ModelCatalog _catalog;
    private readonly ILogger<Preflight> _logger;
    private bool _summaryDue = true;
    private bool _reached;
    private bool _waiting;
    private bool _vsCodeSaid;
    private readonly Lock _gate = new();
    private bool _started;
    private (CatalogSnapshot? Snapshot, UpstreamException? Failure)? _beforeStart;

    public Preflight(ProxySettings settings, ModelCatalog catalog, ILogger<Preflight> logger)
    {
        _settings = settings;
        _catalog = catalog;
        _logger = logger;
        // Subscribed here, not in StartAsync: the first refresh may finish before this service is started.
        catalog.Refreshed += OnRefreshed;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _catalog.Refreshed -= OnRefreshed;
        return Task.CompletedTask;
    }

    /// <summary>Both ports are open: says what the catalog found so far, and from now on each refresh as it comes.</summary>
    public void HostStarted()
    {
        lock (_gate)
        {
            _started = true;
            if (_beforeStart is { } last)
            {
                _beforeStart = null;
                Say(last.Snapshot, last.Failure);
            }
        }
    }

    private void OnRefreshed(CatalogSnapshot? snapshot, UpstreamException? failure)
    {
        lock (_gate)
        {
            if (_started)
            {
                Say(snapshot, failure);
            }
            else
            {
                _beforeStart = (snapshot, failure);
            }
        }
    }

    private void Say(CatalogSnapshot? snapshot, UpstreamException? failure)
    {
        if (failure is not null)
        {
            if (!_waiting && CatalogRefreshService.IsFirstWait(_reached, failure))
            {
                _waiting = true;
                PreflightLog.Waiting(_logger, _settings.LmStudioUrl, UpstreamFailures.Reason(failure.InnerException ?? failure));
                PreflightLog.HowToStart(_logger, _settings.LmStudioUrl);
            }

            SayVsCodeOnce();
            _summaryDue = true;
            return;
        }

        if (!_reached && _waiting && snapshot is not null)
        {
            PreflightLog.Arrived(_logger, _settings.LmStudioUrl, snapshot.Models.Count);
        }

        _reached = true;
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

        SayVsCodeOnce();
    }

    private void SayVsCodeOnce()
    {
        if (!_vsCodeSaid)
        {
            _vsCodeSaid = true;
            PreflightLog.VsCode(_logger, UpstreamChecks.VsCodeSetting(_settings));
        }
    }
}
