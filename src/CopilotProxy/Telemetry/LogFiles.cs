using CopilotProxy.Configuration;
using Serilog;
using Serilog.Formatting.Json;

namespace CopilotProxy.Telemetry;

/// <summary>The LOG_DIR sink: JSON lines in size-capped files, a fixed number kept, so a busy proxy never fills the disk.</summary>
public static class LogFiles
{
    public const string FileName = "copilot-proxy.log";

    public static Serilog.Core.Logger CreateLogger(ProxySettings settings, string directory) =>
        new LoggerConfiguration()
            // Microsoft.Extensions.Logging already filtered by LOG_LEVEL; Serilog's own default (Information) would drop DEBUG lines.
            .MinimumLevel.Verbose()
            .WriteTo.File(
                new JsonFormatter(renderMessage: true),
                Path.Combine(directory, FileName),
                fileSizeLimitBytes: settings.LogFileSizeBytes,
                rollOnFileSizeLimit: true,
                retainedFileCountLimit: settings.LogFileCount)
            .CreateLogger();
}
