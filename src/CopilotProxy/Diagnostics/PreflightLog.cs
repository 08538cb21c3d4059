using Microsoft.Extensions.Logging;

namespace CopilotProxy.Diagnostics;

/// <summary>Start-up pre-flight summary; event ids 6xx.</summary>
internal static partial class PreflightLog
{
    [LoggerMessage(600, LogLevel.Information, "Pre-flight {Symbol} {Finding}")]
    public static partial void Finding(ILogger logger, string symbol, string finding);

    [LoggerMessage(601, LogLevel.Warning, "Pre-flight {Symbol} {Problem}. Fix: {Fix}")]
    public static partial void Problem(ILogger logger, string symbol, string problem, string fix);

    [LoggerMessage(602, LogLevel.Information, "{Setting}")]
    public static partial void VsCode(ILogger logger, string setting);

    [LoggerMessage(603, LogLevel.Warning, "Waiting for LM Studio at {Url} ({Reason}); the proxy is up and uses it as soon as it answers")]
    public static partial void Waiting(ILogger logger, Uri url, string reason);

    [LoggerMessage(604, LogLevel.Information, "Start LM Studio's server: Developer tab > Start Server, or `lms server start` (if it runs elsewhere, set LMSTUDIO_URL, now {Url})")]
    public static partial void HowToStart(ILogger logger, Uri url);

    [LoggerMessage(605, LogLevel.Information, "LM Studio is up at {Url}: {Count} model(s)")]
    public static partial void Arrived(ILogger logger, Uri url, int count);
}
