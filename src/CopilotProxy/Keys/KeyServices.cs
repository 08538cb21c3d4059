using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Queueing;
using CopilotProxy.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Keys;

/// <summary>Registers virtual keys, their limits and usage, and the deployments' fair queues.</summary>
public static class KeyServices
{
    public static IServiceCollection AddVirtualKeys(this IServiceCollection services, ProxySettings settings, GatewayConfig config)
    {
        services.AddSingleton<TeamMetrics>();
        services.AddSingleton<DeploymentQueues>();
        services.AddSingleton(_ => KeyDatabase.Open(settings, config));
        services.AddSingleton<KeyStore>();
        services.AddSingleton<KeyLookup>();
        services.AddSingleton<KeyLimits>();
        services.AddSingleton<UsageWriter>().AddHostedService(sp => sp.GetRequiredService<UsageWriter>());
        services.AddHostedService<KeyDatabaseStartup>();
        return services;
    }
}

/// <summary>
/// Runs the migrations at start when a master key is set (virtual keys exist only then), so a schema problem shows in
/// the first lines of the log. A database that is down does not stop the proxy: the master key keeps working, virtual
/// keys get 503, and the migrations run at the first successful use.
/// </summary>
internal sealed class KeyDatabaseStartup(IServiceProvider services, KeyDatabase database, ILogger<KeyDatabaseStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (GatewayAuth.ConfiguredKey(services) is null)
        {
            return;
        }

        try
        {
            await database.EnsureMigratedAsync().WaitAsync(cancellationToken);
            KeysLog.DatabaseReady(logger, database.Description, KeyMigrations.LatestVersion);
        }
        catch (Exception ex) when (KeyDatabaseFailure.IsUnavailable(ex))
        {
            KeysLog.DatabaseUnavailable(logger, database.Description, ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
