using Microsoft.Extensions.Logging;

namespace CopilotProxy.Keys;

internal static partial class KeysLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Virtual keys are stored in {Database} (schema version {Version})")]
    public static partial void DatabaseReady(ILogger logger, string database, int version);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "The key database {Database} is unavailable: {Reason}. Requests with virtual keys get 503 until it is back; the master key still works")]
    public static partial void DatabaseUnavailable(ILogger logger, string database, string reason);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Usage of {Count} key-minutes not written to {Database} yet ({Reason}); kept in memory and retried with the next batch")]
    public static partial void UsageNotWritten(ILogger logger, int count, string database, string reason);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Key '{Alias}' {Action} ({Token})")]
    public static partial void KeyChanged(ILogger logger, string alias, string action, string token);
}
