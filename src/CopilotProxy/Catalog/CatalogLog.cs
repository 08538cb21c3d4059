using Microsoft.Extensions.Logging;

namespace CopilotProxy.Catalog;

/// <summary>Model catalog log lines; event ids 1xx.</summary>
internal static partial class CatalogLog
{
    [LoggerMessage(100, LogLevel.Warning, "{Message}")]
    public static partial void UpstreamDown(ILogger logger, string message);

    [LoggerMessage(101, LogLevel.Debug, "Upstream still unreachable, next try in {Seconds} s: {Message}")]
    public static partial void StillDown(ILogger logger, string message, double seconds);

    [LoggerMessage(102, LogLevel.Information, "Upstream {Url} is reachable again: {Count} models")]
    public static partial void UpstreamRecovered(ILogger logger, Uri url, int count);

    [LoggerMessage(103, LogLevel.Debug, "Model source {Path} not available (HTTP {Status}); trying the next one")]
    public static partial void SourceUnavailable(ILogger logger, string path, int status);

    [LoggerMessage(104, LogLevel.Debug, "Model source {Path} answered something else than a model list ({Reason}); trying the next one")]
    public static partial void SourceUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(105, LogLevel.Information, "Model catalog from {Source}: {Count} models ({Summary})")]
    public static partial void Refreshed(ILogger logger, string source, int count, string summary);
}
