using CopilotProxy.Configuration;
using NLog;
using NLog.Config;
using NLog.Extensions.Logging;
using NLog.Layouts;
using NLog.Targets;

namespace CopilotProxy.Telemetry;

/// <summary>The LOG_DIR sink: JSON lines in size-capped files, a fixed number kept, so a busy proxy never fills the disk.</summary>
/// <remarks>
/// NLog rather than Serilog.Sinks.File: Serilog 4.4's core (PropertyValueConverter) carries a trim warning (IL2072) that
/// breaks the zero-warning Native AOT publish; NLog 6 publishes clean.
/// </remarks>
public static class LogFiles
{
    public const string FileName = "copilot-proxy.log";

    /// <summary>A provider with its own NLog factory, so two proxies in one process (tests) never share files or configuration.</summary>
    public static NLogLoggerProvider CreateProvider(ProxySettings settings, string directory)
    {
        var layout = new JsonLayout
        {
            IncludeEventProperties = true,
            Attributes =
            {
                new JsonAttribute("time", "${date:universalTime=true:format=o}"),
                new JsonAttribute("level", "${level}"),
                new JsonAttribute("category", "${logger}"),
                new JsonAttribute("message", "${message}"),
                new JsonAttribute("exception", "${exception:format=toString}"),
            },
        };
        var file = new FileTarget("files")
        {
            FileName = Path.Combine(directory, FileName),
            Layout = layout,
            ArchiveAboveSize = settings.LogFileSizeBytes,
            // NLog counts archives only; the file being written is one more.
            MaxArchiveFiles = settings.LogFileCount,
        };

        var configuration = new LoggingConfiguration();
        // Microsoft.Extensions.Logging already filtered by LOG_LEVEL; everything that reaches NLog is written.
        configuration.AddRuleForAllLevels(file);
        var factory = new LogFactory { Configuration = configuration };
        return new NLogLoggerProvider(new NLogProviderOptions { ShutdownOnDispose = true }, factory);
    }
}
