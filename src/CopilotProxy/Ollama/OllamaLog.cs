using Microsoft.Extensions.Logging;

namespace CopilotProxy.Ollama;

/// <summary>Ollama translation log lines; event ids 8xx.</summary>
internal static partial class OllamaLog
{
    [LoggerMessage(800, LogLevel.Debug, "{Route}: options without an upstream equivalent were ignored: {Options} (LM Studio sets context and runner settings when it loads a model)")]
    public static partial void IgnoredOptions(ILogger logger, string route, string options);

    [LoggerMessage(801, LogLevel.Debug, "{Route}: field {Field} was ignored: {Reason}")]
    public static partial void IgnoredField(ILogger logger, string route, string field, string reason);

    [LoggerMessage(804, LogLevel.Warning, "Unloading {Model} after the request (keep_alive 0) failed: {Message}")]
    public static partial void UnloadAfterRequestFailed(ILogger logger, string model, string message);
}
