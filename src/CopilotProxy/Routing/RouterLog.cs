using Microsoft.Extensions.Logging;

namespace CopilotProxy.Routing;

/// <summary>Routing log lines: retries, cooldowns, fallbacks; event ids 7xx.</summary>
internal static partial class RouterLog
{
    [LoggerMessage(700, LogLevel.Information, "Retry {Attempt} after: {Reason}")]
    public static partial void Retrying(ILogger logger, int attempt, string reason);

    [LoggerMessage(701, LogLevel.Warning, "Deployment {Deployment} is cooling down for {Seconds} s after repeated failures (last: {Reason})")]
    public static partial void CoolingDown(ILogger logger, string deployment, double seconds, string reason);

    [LoggerMessage(702, LogLevel.Warning, "Model group {Group} failed; answered by fallback {Fallback}")]
    public static partial void FellBack(ILogger logger, string group, string fallback);
}
