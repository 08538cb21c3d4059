using System.Security.Cryptography;
using System.Text;
using CopilotProxy.Configuration;
using CopilotProxy.OpenAI.Wire;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CopilotProxy.Http;

/// <summary>Endpoint metadata: the route needs the gateway key when one is configured.</summary>
public sealed class GatewayKeyRequired
{
    public static GatewayKeyRequired Instance { get; } = new();

    private GatewayKeyRequired()
    {
    }
}

/// <summary>
/// The OpenAI gateway's key check: <c>API_KEY</c> (environment) or <c>general_settings.master_key</c>, presented as
/// <c>Authorization: Bearer</c> or <c>x-api-key</c>. Only routes marked <see cref="GatewayKeyRequired"/> are checked, so
/// health routes and the whole Ollama front door stay open: Copilot's Ollama provider has no key field and always sends
/// an empty bearer, and a 401 makes Copilot reset its GitHub token (protocol.md §1.1, §1.5).
/// </summary>
internal static class GatewayAuth
{
    public static Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<GatewayKeyRequired>() is null
            || ConfiguredKey(context.RequestServices) is not { } expected
            || Matches(PresentedKey(context.Request), expected))
        {
            return next(context);
        }

        // The gateway's 401 is in the API's own error shape (Anthropic's for the Messages API, which its SDKs parse),
        // built from the wire types so this plumbing needs no OpenAI feature code.
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        const string message = "Authentication error: the gateway needs its key, sent as \"Authorization: Bearer <key>\" or \"x-api-key: <key>\" (API_KEY, or general_settings.master_key in config.yaml).";
        if (context.Request.Path.Value?.EndsWith("/messages", StringComparison.Ordinal) == true)
        {
            return context.Response.WriteAsJsonAsync(new AnthropicErrorResponse(new AnthropicError("authentication_error", message)),
                OpenAIJsonContext.Default.AnthropicErrorResponse, contentType: null, context.RequestAborted);
        }

        var error = new OpenAIError(message, "authentication_error", null, "invalid_api_key");
        return context.Response.WriteAsJsonAsync(new OpenAIErrorResponse(error), OpenAIJsonContext.Default.OpenAIErrorResponse, contentType: null, context.RequestAborted);
    }

    /// <summary>The key in force, read per request so a reloaded config.yaml takes effect; null or empty means the gateway is open.</summary>
    public static string? ConfiguredKey(IServiceProvider services)
    {
        var key = services.GetRequiredService<ProxySettings>().ApiKey ?? services.GetRequiredService<GatewayConfigHolder>().Current.MasterKey;
        return string.IsNullOrEmpty(key) ? null : key;
    }

    private static string? PresentedKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization["Bearer ".Length..].Trim() is { Length: > 0 } bearer)
        {
            return bearer;
        }

        var apiKey = request.Headers["x-api-key"].ToString();
        return apiKey.Length > 0 ? apiKey.Trim() : null;
    }

    /// <summary>Compares hashes in constant time, so neither the content nor the length of the key leaks through timing.</summary>
    private static bool Matches(string? presented, string expected)
    {
        if (presented is null)
        {
            return false;
        }

        Span<byte> a = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> b = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), a);
        SHA256.HashData(Encoding.UTF8.GetBytes(expected), b);
        return CryptographicOperations.FixedTimeEquals(a, b);
    }
}
