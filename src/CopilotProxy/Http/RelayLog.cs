using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>Request-path log lines; event ids 2xx.</summary>
internal static partial class RelayLog
{
    [LoggerMessage(200, LogLevel.Warning, "{FrontDoor} {Route} failed ({Failure}): {Message}")]
    public static partial void UpstreamFailed(ILogger logger, string frontDoor, string route, string failure, string message);

    [LoggerMessage(201, LogLevel.Debug, "{FrontDoor} {Route}: client disconnected; upstream request canceled")]
    public static partial void ClientCanceled(ILogger logger, string frontDoor, string route);

    [LoggerMessage(202, LogLevel.Error, "Unhandled error on {Method} {Path}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(203, LogLevel.Debug, "Upstream sent an SSE event that is not JSON; relayed unchanged: {Data}")]
    public static partial void NonJsonEvent(ILogger logger, string data);
}
