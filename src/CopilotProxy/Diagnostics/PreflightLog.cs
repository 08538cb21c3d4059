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
}
