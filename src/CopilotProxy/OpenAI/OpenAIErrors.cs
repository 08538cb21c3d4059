using CopilotProxy.Http;
using CopilotProxy.OpenAI.Wire;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.OpenAI;

/// <summary>Writes errors in the OpenAI front door's own shape.</summary>
public static class OpenAIErrors
{
    public static Task WriteAsync(HttpContext context, int status, string message, string? code = null, string? param = null)
    {
        context.Response.StatusCode = status;
        var error = new OpenAIError(message, TypeFor(status), param, code);
        return ReadableJson.WriteAsync(context.Response, new OpenAIErrorResponse(error), OpenAIJsonContext.Default.OpenAIErrorResponse, context.RequestAborted);
    }

    /// <summary>Answers with an upstream failure, and records its class for the request log line and metrics.</summary>
    public static Task WriteAsync(HttpContext context, UpstreamException failure)
    {
        context.GetRequestTelemetry().Failure ??= failure.Failure;
        if (failure.RetryAfter is { } after)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return WriteAsync(context, UpstreamErrors.ClientStatus(failure), failure.Message, failure.UpstreamCode ?? CodeFor(failure.Failure));
    }

    /// <summary>The same envelope as one SSE event, for failures after the 200 and the headers are gone.</summary>
    public static byte[] SseEvent(string message, string code)
    {
        var error = new OpenAIErrorResponse(new OpenAIError(message, "upstream_error", null, code));
        var json = ReadableJson.SerializeToUtf8Bytes(error, OpenAIJsonContext.Default.OpenAIErrorResponse);
        return [.. "data: "u8, .. json, .. "\n\n"u8];
    }

    public static string CodeFor(UpstreamFailure failure) => failure switch
    {
        UpstreamFailure.Connect => "upstream_unreachable",
        UpstreamFailure.Timeout => "upstream_timeout",
        UpstreamFailure.InvalidResponse => "upstream_invalid_response",
        UpstreamFailure.MidStream => "upstream_stream_broken",
        UpstreamFailure.ClientCanceled => "client_canceled",
        UpstreamFailure.CoolingDown => "no_deployments_available",
        UpstreamFailure.ShuttingDown => "proxy_shutting_down",
        _ => "upstream_error",
    };

    private static string TypeFor(int status) => status switch
    {
        400 or 413 or 415 => "invalid_request_error",
        401 => "authentication_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        // llama.cpp's server's own type for its 501s, which the gateway passes on (UpstreamErrors.ClientStatus).
        501 => "not_supported_error",
        >= 500 => "upstream_error",
        _ => "invalid_request_error",
    };
}
