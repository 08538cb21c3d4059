using Microsoft.Extensions.Logging;

namespace CopilotProxy.Loading;

/// <summary>Model loading log lines; event ids 10xx.</summary>
internal static partial class LoadingLog
{
    [LoggerMessage(1000, LogLevel.Information, "{Action} {Model} through LM Studio's /api/v1 ({Milliseconds:0} ms)")]
    public static partial void Lifecycle(ILogger logger, string action, string model, double milliseconds);

    [LoggerMessage(1001, LogLevel.Debug, "{Model}: nothing to {Action}: {Reason}")]
    public static partial void Skipped(ILogger logger, string model, string action, string reason);

    [LoggerMessage(1002, LogLevel.Information, "Loaded {Model} with a {Context}-token context ({Milliseconds:0} ms)")]
    public static partial void Loaded(ILogger logger, string model, int context, double milliseconds);

    [LoggerMessage(1003, LogLevel.Warning, "Reloading {Model}: LM Studio has it loaded with a {Loaded}-token context, below the {Target} tokens that {Why} asks for; requests wait for the reload")]
    public static partial void Reloading(ILogger logger, string model, int loaded, int target, string why);

    [LoggerMessage(1004, LogLevel.Information, "Pulling {Model}: LM Studio download {Status} ({Total} bytes)")]
    public static partial void DownloadStarted(ILogger logger, string model, string status, long total);

    [LoggerMessage(1005, LogLevel.Warning, "Pulling {Model} failed: {Message}")]
    public static partial void DownloadFailed(ILogger logger, string model, string message);
}
