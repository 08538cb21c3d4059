using Microsoft.Extensions.Logging;

namespace CopilotProxy.Dashboard;

/// <summary>The dashboard's log lines; event ids 10xx.</summary>
internal static partial class DashboardLog
{
    [LoggerMessage(1000, LogLevel.Warning, "The dashboard's {Action} of {Model} failed: {Reason}")]
    public static partial void ActionFailed(ILogger logger, string action, string model, string reason);
}
