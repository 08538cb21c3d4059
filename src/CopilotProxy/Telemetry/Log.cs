using Microsoft.Extensions.Logging;

namespace CopilotProxy.Telemetry;

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

/// <summary>Start-up log lines; event ids 3xx.</summary>
internal static partial class StartupLog
{
    [LoggerMessage(300, LogLevel.Information, "copilot-proxy {Version}: Ollama front door on {OllamaUrl}, OpenAI gateway on {GatewayUrl}, upstream {Upstream}")]
    public static partial void Listening(ILogger logger, string version, string ollamaUrl, string gatewayUrl, Uri upstream);
}
