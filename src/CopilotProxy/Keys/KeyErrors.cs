using System.Text.Json;
using CopilotProxy.Http;
using CopilotProxy.OpenAI.Wire;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Keys;

/// <summary>
/// Key refusals (401, 429, 503), and the browser refusals of Hosting/BrowserGuard (403), in the shape of the API the client called: Anthropic's for the Messages API, Ollama's
/// <c>{"error"}</c> for the Ollama front door's own routes, OpenAI's everywhere else. Built from the wire types, so
/// this plumbing needs no front door's feature code.
/// </summary>
internal static class KeyErrors
{
    public static Task WriteAsync(HttpContext context, int status, string message, string code)
    {
        context.Response.StatusCode = status;
        var path = context.Request.Path.Value ?? string.Empty;
        if (path.EndsWith("/messages", StringComparison.Ordinal))
        {
            var type = status switch { 401 => "authentication_error", 403 => "permission_error", 429 => "rate_limit_error", _ => "api_error" };
            return ReadableJson.WriteAsync(context.Response, new AnthropicErrorResponse(new AnthropicError(type, message)),
                OpenAIJsonContext.Default.AnthropicErrorResponse, context.RequestAborted);
        }

        if (context.GetFrontDoor() == FrontDoor.Ollama && path.StartsWith("/api/", StringComparison.Ordinal))
        {
            return WriteOllamaAsync(context, message);
        }

        var openAIType = status switch { 401 => "authentication_error", 403 => "permission_error", 429 => "rate_limit_error", _ => "service_unavailable_error" };
        return ReadableJson.WriteAsync(context.Response, new OpenAIErrorResponse(new OpenAIError(message, openAIType, null, code)),
            OpenAIJsonContext.Default.OpenAIErrorResponse, context.RequestAborted);
    }

    private static async Task WriteOllamaAsync(HttpContext context, string message)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        using (var writer = new Utf8JsonWriter(context.Response.BodyWriter, ReadableJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("error", message);
            writer.WriteEndObject();
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }
}
