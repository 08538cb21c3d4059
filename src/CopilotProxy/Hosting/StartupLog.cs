using Microsoft.Extensions.Logging;

namespace CopilotProxy.Hosting;

/// <summary>Start-up log lines; event ids 3xx.</summary>
internal static partial class StartupLog
{
    [LoggerMessage(300, LogLevel.Information, "copilot-proxy {Version}: Ollama front door on {OllamaUrl}, OpenAI gateway on {GatewayUrl}, upstream {Upstream}")]
    public static partial void Listening(ILogger logger, string version, string ollamaUrl, string gatewayUrl, Uri upstream);

    [LoggerMessage(301, LogLevel.Information, "Configuration {Path}: {Entries} model entries in {Groups} groups")]
    public static partial void ConfigLoaded(ILogger logger, string path, int entries, int groups);

    [LoggerMessage(305, LogLevel.Information, "No config.yaml ({Searched}): every model LM Studio lists is served")]
    public static partial void NoConfig(ILogger logger, string searched);

    [LoggerMessage(303, LogLevel.Information, "{Path}:{Line}: model {Model} names LM Studio's default address {ApiBase}; it is served from LMSTUDIO_URL {Upstream}")]
    public static partial void DefaultAddressMapped(ILogger logger, string path, int line, string model, Uri apiBase, Uri upstream);

    [LoggerMessage(304, LogLevel.Warning, "The OpenAI gateway accepts requests without a key: set API_KEY or general_settings.master_key in config.yaml to require one")]
    public static partial void GatewayOpen(ILogger logger);

    [LoggerMessage(306, LogLevel.Warning, "Refused with 403: {Reason} (said once; every refusal is in the request log)")]
    public static partial void BrowserRefused(ILogger logger, string reason);

    [LoggerMessage(307, LogLevel.Warning, "{Disagreement}")]
    public static partial void OllamaVariableIgnored(ILogger logger, string disagreement);
}
