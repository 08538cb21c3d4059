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

    [LoggerMessage(301, LogLevel.Information, "Configuration {Path}: {Entries} model entries in {Groups} groups")]
    public static partial void ConfigLoaded(ILogger logger, string path, int entries, int groups);

    [LoggerMessage(302, LogLevel.Warning, "{Path}:{Line}: {KeyPath}: ignored: {Reason}")]
    public static partial void ConfigKeyIgnored(ILogger logger, string path, int line, string keyPath, string reason);

    [LoggerMessage(303, LogLevel.Information, "{Path}:{Line}: model {Model} names LM Studio's default address {ApiBase}; it is served from LMSTUDIO_URL {Upstream}")]
    public static partial void DefaultAddressMapped(ILogger logger, string path, int line, string model, Uri apiBase, Uri upstream);

    [LoggerMessage(304, LogLevel.Warning, "The OpenAI gateway accepts requests without a key: set API_KEY or general_settings.master_key in config.yaml to require one")]
    public static partial void GatewayOpen(ILogger logger);
}

/// <summary>Routing log lines: retries, cooldowns, fallbacks; event ids 4xx.</summary>
internal static partial class RouterLog
{
    [LoggerMessage(400, LogLevel.Information, "Retry {Attempt} after: {Reason}")]
    public static partial void Retrying(ILogger logger, int attempt, string reason);

    [LoggerMessage(401, LogLevel.Warning, "Deployment {Deployment} is cooling down for {Seconds} s after repeated failures (last: {Reason})")]
    public static partial void CoolingDown(ILogger logger, string deployment, double seconds, string reason);

    [LoggerMessage(402, LogLevel.Warning, "Model group {Group} failed; answered by fallback {Fallback}")]
    public static partial void FellBack(ILogger logger, string group, string fallback);
}
