using Microsoft.Extensions.Logging;

namespace CopilotProxy.Configuration;

/// <summary>config.yaml hot reload; event ids 9xx.</summary>
internal static partial class ConfigLog
{
    [LoggerMessage(900, LogLevel.Information, "HOT_RELOAD: watching {Path}; valid edits apply without a restart")]
    public static partial void Watching(ILogger logger, string path);

    [LoggerMessage(901, LogLevel.Warning, "config.yaml edit rejected, the last good configuration stays in force: {Error}")]
    public static partial void Rejected(ILogger logger, string error);

    [LoggerMessage(902, LogLevel.Information, "Reloaded {Path}: {Entries} model entries")]
    public static partial void Reloaded(ILogger logger, string path, int entries);

    [LoggerMessage(903, LogLevel.Warning, "{Path}: environment_variables changed; process settings (ports, URLs, logging) apply only after a restart")]
    public static partial void SettingsNeedRestart(ILogger logger, string path);

    [LoggerMessage(302, LogLevel.Warning, "{Path}:{Line}: {KeyPath}: ignored: {Reason}")]
    public static partial void ConfigKeyIgnored(ILogger logger, string path, int line, string keyPath, string reason);
}
