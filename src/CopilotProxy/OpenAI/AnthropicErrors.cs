using CopilotProxy.Http;
using CopilotProxy.OpenAI.Wire;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.OpenAI;

/// <summary>Writes the Messages API's errors in Anthropic's shape, which its SDKs and Copilot's Messages client parse.</summary>
public static class AnthropicErrors
{
    public static Task WriteAsync(HttpContext context, int status, string message)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = status;
        var body = new AnthropicErrorResponse(new AnthropicError(TypeFor(status), message));
        return ReadableJson.WriteAsync(context.Response, body, OpenAIJsonContext.Default.AnthropicErrorResponse, context.RequestAborted);
    }

    /// <summary>Answers with an upstream failure, and records its class for the request log line and metrics.</summary>
    public static Task WriteAsync(HttpContext context, UpstreamException failure)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(failure);
        context.GetRequestTelemetry().Failure ??= failure.Failure;
        return WriteAsync(context, UpstreamErrors.ClientStatus(failure), failure.Message);
    }

    /// <summary>Anthropic's error types (docs.anthropic.com, errors): one per status class.</summary>
    public static string TypeFor(int status) => status switch
    {
        400 or 415 or 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
}
