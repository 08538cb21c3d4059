using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CopilotProxy.Keys;

/// <summary>
/// The gateway's key check: the master key or a virtual key, presented as <c>Authorization: Bearer</c> or
/// <c>x-api-key</c>. Routes marked <see cref="GatewayKeyRequired"/> need one; the Ollama front door stays open unless
/// OLLAMA_REQUIRE_KEY is set: Copilot's Ollama provider has no key field and always sends an empty bearer, and a 401
/// makes Copilot reset its GitHub token (docs/protocol.md §1.1, §1.5). A virtual key sent to an open route is still
/// honoured, so its models, limits and usage apply there too.
/// </summary>
internal static class KeyAuth
{
    public static Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        // Virtual keys exist only beside a master key, as in LiteLLM: without one the gateway is open and no key is read.
        if (GatewayAuth.ConfiguredKey(context.RequestServices) is not { } expected)
        {
            return next(context);
        }

        var required = context.GetEndpoint()?.Metadata.GetMetadata<GatewayKeyRequired>() is not null
            || (context.GetFrontDoor() == FrontDoor.Ollama && context.RequestServices.GetRequiredService<ProxySettings>().OllamaRequireKey
                && context.GetEndpoint() is not null);
        var presented = GatewayAuth.PresentedKey(context.Request);
        if (presented is null)
        {
            return required ? RefuseAsync(context) : next(context);
        }

        if (GatewayAuth.Matches(presented, expected))
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
}
