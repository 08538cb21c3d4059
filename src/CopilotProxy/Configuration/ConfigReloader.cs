using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Configuration;

/// <summary>
/// HOT_RELOAD: applies edits to config.yaml without a restart. A valid edit replaces the configuration in force
/// (models, aliases, groups, defaults, the gateway key, router settings); an invalid one is rejected with its errors
/// logged, and the last good configuration stays.
/// </summary>
/// <remarks>
/// The file is polled (size and write time, once a second) rather than watched with inotify: Docker Desktop's bind
/// mounts from macOS and Windows do not deliver inotify events, and editors that save by renaming replace the inode a
/// watcher would be holding. A stat a second costs nothing measurable.
/// </remarks>
public sealed class ConfigReloader(GatewayConfigHolder holder, ProxySettings settings, TimeProvider time, ILogger<ConfigReloader> logger)
    : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.HotReload || holder.Current.SourcePath is not { } path)
        {
            return;
        }

        ConfigLog.Watching(logger, path);
        var seen = Stamp(path);
        using var timer = new PeriodicTimer(PollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = Stamp(path);
                if (now == seen)
                {
                    continue;
                }

                seen = now;
                Reload(path);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping, not a failure: ended as cancelled, it would be logged by the host as a crash (after a start that
            // failed on a port, above the one line that says why).
        }
    }

    /// <summary>Loads the file again and swaps it in when valid; public so a test can trigger it without waiting for the timer.</summary>
    public bool Reload(string path)
    {
        var previous = holder.Current;
        var result = GatewayConfigLoader.Load(new ConfigFileLocation(path, IsExplicit: false), Environment.GetEnvironmentVariable);
        if (result.Config is not { } next)
        {
            foreach (var error in result.Errors)
            {
                ConfigLog.Rejected(logger, error.ToString());
            }

            return false;
        }

        foreach (var ignored in next.Ignored.Where(i => !previous.Ignored.Contains(i)))
        {
            ConfigLog.ConfigKeyIgnored(logger, path, ignored.Line, ignored.KeyPath, ignored.Reason);
        }

        if (!SameVariables(previous.EnvironmentVariables, next.EnvironmentVariables))
        {
            ConfigLog.SettingsNeedRestart(logger, path);
        }

        holder.Swap(next with { SourcePath = path });
        ConfigLog.Reloaded(logger, path, next.Models.Count);
        return true;
    }

    private static (long Length, DateTime Written)? Stamp(string path)
    {
        var file = new FileInfo(path);
        return file.Exists ? (file.Length, file.LastWriteTimeUtc) : null;
    }

    private static bool SameVariables(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(pair => b.TryGetValue(pair.Key, out var value) && value == pair.Value);
}
