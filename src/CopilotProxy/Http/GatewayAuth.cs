using System.Security.Cryptography;
using System.Text;
using CopilotProxy.Configuration;
using CopilotProxy.Keys;
using CopilotProxy.Telemetry;
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
/// The gateway's key check: the master key (<c>API_KEY</c> or <c>general_settings.master_key</c>) or a virtual key,
/// presented as <c>Authorization: Bearer</c> or <c>x-api-key</c>. Routes marked <see cref="GatewayKeyRequired"/> need one;
/// the Ollama front door stays open unless OLLAMA_REQUIRE_KEY is set: Copilot's Ollama provider has no key field and
/// always sends an empty bearer, and a 401 makes Copilot reset its GitHub token (docs/protocol.md §1.1, §1.5). A
/// virtual key sent to an open route is still honoured, so its limits and usage apply there too.
/// </summary>
internal static class GatewayAuth
{
    public static Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        // Virtual keys exist only beside a master key, as in LiteLLM: without one the gateway is open and no key is read.
        if (ConfiguredKey(context.RequestServices) is not { } expected)
        {
            return next(context);
        }

        var required = context.GetEndpoint()?.Metadata.GetMetadata<GatewayKeyRequired>() is not null
            || (context.GetFrontDoor() == FrontDoor.Ollama && context.RequestServices.GetRequiredService<ProxySettings>().OllamaRequireKey
                && context.GetEndpoint() is not null);
        var presented = PresentedKey(context.Request);
        if (presented is null)
        {
            return required ? RefuseAsync(context) : next(context);
        }

        if (Matches(presented, expected))
        {
            context.Features.Set(KeyCaller.Master);
            return KeyGate.IsModelCall(context.Request) ? CountMasterAsync(context, next) : next(context);
        }

        return KeyGate.InvokeAsync(context, next, presented, required);
    }

    private static async Task CountMasterAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var telemetry = context.GetRequestTelemetry();
            context.RequestServices.GetRequiredService<UsageWriter>().Record(KeyCaller.Master, telemetry.PromptTokens, telemetry.CompletionTokens);
        }
    }

    private static Task RefuseAsync(HttpContext context)
    {
        // The gateway's 401 is in the API's own error shape (Anthropic's for the Messages API, which its SDKs parse).
        const string message = "Authentication error: the gateway needs a key, sent as \"Authorization: Bearer <key>\" or \"x-api-key: <key>\": the master key (API_KEY, or general_settings.master_key in config.yaml) or a virtual key from POST /key/generate.";
        return KeyErrors.WriteAsync(context, StatusCodes.Status401Unauthorized, message, "invalid_api_key");
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
