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

/// <summary>The one line per request, and DEBUG_LOGGING's bodies; event ids 7xx.</summary>
internal static partial class RequestLog
{
    [LoggerMessage(EventId = 400, Message = "{FrontDoor} {Method} {Route} model={ClientModel} upstream_model={UpstreamModel} -> {Status} ttfb={TimeToFirstByteMs} ms total={TotalMs} ms tokens={PromptTokens}/{CompletionTokens} failure={Failure}")]
    public static partial void Completed(ILogger logger, LogLevel level, string frontDoor, string method, string route, string clientModel, string upstreamModel,
        int status, double? timeToFirstByteMs, double totalMs, int? promptTokens, int? completionTokens, string failure);

    [LoggerMessage(401, LogLevel.Information, "{Method} {Path} request headers: {Headers}; body: {Body}")]
    public static partial void RequestBody(ILogger logger, string method, string path, string headers, string body);

    [LoggerMessage(402, LogLevel.Information, "{Method} {Path} response {Status} headers: {Headers}; body: {Body}")]
    public static partial void ResponseBody(ILogger logger, string method, string path, int status, string headers, string body);
}

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

/// <summary>config.yaml hot reload; event ids 9xx.</summary>
internal static partial class ConfigLog
{
    [LoggerMessage(900, LogLevel.Information, "HOT_RELOAD: watching {Path}; valid edits apply without a restart")]
    public static partial void Watching(ILogger logger, string path);

    [LoggerMessage(901, LogLevel.Warning, "config.yaml edit rejected, the last good configuration stays in force: {Error}")]
    public static partial void Rejected(ILogger logger, string error);

    [LoggerMessage(902, LogLevel.Information, "Reloaded {Path}: {Entries} model entries")]
    public static partial void Reloaded(ILogger logger, string path, int entries);

    [LoggerMessage(903, LogLevel.Warning, "{Path}: environment_variables changed; process settings (ports, URLs, logging) apply only after a restart")]
    public static partial void SettingsNeedRestart(ILogger logger, string path);
}
