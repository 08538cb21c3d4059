using CopilotProxy.Http;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Ollama;

/// <summary>Writes errors in Ollama's shape, <c>{"error":"…"}</c>.</summary>
public static class OllamaErrors
{
    public static Task WriteAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return ReadableJson.WriteAsync(context.Response, new OllamaError(message), OllamaResponseJsonContext.Default.OllamaError, context.RequestAborted);
    }

    /// <summary>Answers with an upstream failure, and records its class for the request log line and metrics.</summary>
    public static Task WriteAsync(HttpContext context, UpstreamException failure)
    {
        context.GetRequestTelemetry().Failure ??= failure.Failure;
        return WriteAsync(context, UpstreamErrors.ClientStatus(failure), failure.Message);
    }

    public static string ModelNotFound(string name) => $"model '{name}' not found";
}
