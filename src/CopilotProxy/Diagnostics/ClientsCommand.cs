using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Diagnostics;

/// <summary>
/// The client setups two ways: <c>copilot-proxy clients [--json]</c> on the command line, from the configuration and a
/// fresh discovery of the upstreams, and <c>GET /clients</c> on the gateway, from the running proxy's model catalog.
/// </summary>
public static class ClientsCommand
{
    /// <summary>Prints the setups; exits 1 (setups still printed, without models) when no upstream answered.</summary>
    public static async Task<int> RunAsync(ProxySettings settings, GatewayConfig? config, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        config ??= GatewayConfig.Empty;
        using var upstreams = new UpstreamRegistry(settings);
        var catalog = new ModelCatalog(upstreams, new GatewayConfigHolder(config), settings, TimeProvider.System, NullLogger<ModelCatalog>.Instance);
        IReadOnlyList<CatalogModel> models = [];
        var exitCode = 0;
        try
        {
            models = (await catalog.RefreshAsync(cancellationToken)).Models;
        }
        catch (UpstreamException failure)
        {
            await error.WriteLineAsync($"copilot-proxy clients: {failure.Message} The setups below list no models; start LM Studio and run this again.");
            exitCode = 1;
        }

        var keyRequired = settings.ApiKey is not null || !string.IsNullOrEmpty(config.MasterKey);
        var setups = ClientSetups.Build(ClientEndpoints.For(settings.Host, settings.OllamaPort, settings.GatewayPort, keyRequired), models);
        await output.WriteLineAsync(json ? ClientSetups.ToJson(setups) : ClientSetups.ToText(setups));
        return exitCode;
    }

    /// <summary>
    /// <c>GET /clients</c> on the gateway. Open like the health routes: it carries no secret (a key is only ever a
    /// placeholder), and the dashboard shows it without asking for the key.
    /// </summary>
    public static RouteHandlerBuilder MapClientSetups(this IEndpointRouteBuilder app) =>
        app.MapGet("/clients", ServeAsync).WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI)).WithMetadata(GatewayKeyRequired.Instance);

    private static async Task ServeAsync(HttpContext context, ModelCatalog catalog, ProxySettings settings, FrontDoorBindings bindings)
    {
        IReadOnlyList<CatalogModel> models;
        try
        {
            models = (await catalog.GetAsync(context.RequestAborted)).Models;
        }
        catch (UpstreamException)
        {
            // The setups are still right without models; /health says what is wrong with the upstream.
            models = catalog.Current?.Models ?? [];
        }

        // The host the caller used reaches this machine from where the caller is (the dashboard may be on another machine).
        var host = context.Request.Host.HasValue ? context.Request.Host.Host : settings.Host;
        var gatewayPort = context.Request.Host.Port ?? bindings.GatewayPort;
        var endpoints = ClientEndpoints.For(host, bindings.OllamaPort, gatewayPort, GatewayAuth.ConfiguredKey(context.RequestServices) is not null);
        var setups = ClientSetups.Build(endpoints, models);
        // Relaxed escaping, as the CLI's --json: the snippets are text people paste.
        await ReadableJson.WriteAsync(context.Response, setups, ClientSetupJsonContext.Default.ClientSetupList, context.RequestAborted, indented: true);
    }
}
