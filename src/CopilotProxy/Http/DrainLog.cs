using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>Graceful drain on SIGTERM/SIGINT; event ids 5xx.</summary>
internal static partial class DrainLog
{
    [LoggerMessage(500, LogLevel.Information, "Shutting down: readiness now answers 503; {Streams} stream(s) in flight get up to {Seconds} s (GRACEFUL_SHUTDOWN_TIMEOUT) to finish")]
    public static partial void Started(ILogger logger, int streams, double seconds);

    [LoggerMessage(501, LogLevel.Information, "Closing the listeners: new connections are refused from now on; waiting for {Streams} stream(s)")]
    public static partial void ListenersClosing(ILogger logger, int streams);

    [LoggerMessage(502, LogLevel.Warning, "GRACEFUL_SHUTDOWN_TIMEOUT ({Seconds} s) ran out with {Streams} stream(s) still running: ending them with an error and aborting their upstream requests")]
    public static partial void Expired(ILogger logger, int streams, double seconds);

    [LoggerMessage(503, LogLevel.Information, "Stopped")]
    public static partial void Stopped(ILogger logger);
}
