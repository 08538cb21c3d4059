using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>
/// The graceful drain on SIGTERM/SIGINT: readiness turns 503 at once, the listeners close after a short notice, in-flight
/// streams get GRACEFUL_SHUTDOWN_TIMEOUT to finish, and then <see cref="Expired"/> fires so relays end them with an in-band
/// error and abort their upstream requests.
/// </summary>
/// <remarks>
/// Kestrel on its own waits for in-flight requests until the host's shutdown timeout and then aborts the connections,
/// which tells a streaming client nothing: it sees a cut TCP stream. So the host's timeout is set a little past ours
/// (<see cref="HostShutdownTimeout"/>), and our own deadline fires first while the relays can still write.
/// </remarks>
public sealed class ShutdownDrain : IHostedLifecycleService, IDisposable
{
    /// <summary>Longest time the listeners keep accepting after the signal, so a load balancer polling readiness sees the 503.</summary>
    internal static readonly TimeSpan MaxNotice = TimeSpan.FromSeconds(1);

    /// <summary>Time a relay gets after <see cref="Expired"/> to write its in-band error and end the response.</summary>
    internal static readonly TimeSpan ExpiryGrace = TimeSpan.FromSeconds(3);

    private readonly CancellationTokenSource _expired = new();
    private readonly ProxySettings _settings;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ShutdownDrain> _logger;
    private int _activeStreams;
    private volatile bool _draining;

    public ShutdownDrain(ProxySettings settings, IHostApplicationLifetime lifetime, ILogger<ShutdownDrain> logger)
    {
        _settings = settings;
        _lifetime = lifetime;
        _logger = logger;
    }

    public static TimeSpan HostShutdownTimeout(ProxySettings settings) => settings.GracefulShutdownTimeout + ExpiryGrace;

    /// <summary>True from the shutdown signal on; readiness answers 503.</summary>
    public bool Draining => _draining;

    /// <summary>Fires GRACEFUL_SHUTDOWN_TIMEOUT after the shutdown signal; pass it to <c>ActivityTimeout</c>.</summary>
    public CancellationToken Expired => _expired.Token;

    internal void StreamStarted() => Interlocked.Increment(ref _activeStreams);

    internal void StreamEnded() => Interlocked.Decrement(ref _activeStreams);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        _lifetime.ApplicationStopping.Register(Begin);
        return Task.CompletedTask;
    }

    /// <summary>Runs before any hosted service stops, Kestrel included: the listeners stay open for the short notice.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Begin();
        var notice = _settings.GracefulShutdownTimeout < MaxNotice ? _settings.GracefulShutdownTimeout : MaxNotice;
        try
        {
            await Task.Delay(notice, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's own timeout won; stop now.
        }

        DrainLog.ListenersClosing(_logger, Volatile.Read(ref _activeStreams));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        DrainLog.Stopped(_logger);
        return Task.CompletedTask;
    }

    public void Dispose() => _expired.Dispose();

    private void Begin()
    {
        if (_draining)
        {
            return;
        }

        _draining = true;
        DrainLog.Started(_logger, Volatile.Read(ref _activeStreams), _settings.GracefulShutdownTimeout.TotalSeconds);
        _expired.Token.Register(() => DrainLog.Expired(_logger, Volatile.Read(ref _activeStreams), _settings.GracefulShutdownTimeout.TotalSeconds));
        _expired.CancelAfter(_settings.GracefulShutdownTimeout);
    }
}
