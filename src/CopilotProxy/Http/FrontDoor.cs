using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CopilotProxy.Http;

/// <summary>An API the proxy exposes; each front door has its own listener.</summary>
public enum FrontDoor
{
    Ollama,
    OpenAI,
}

/// <summary>Endpoint metadata tying a route to the front door whose listener may serve it.</summary>
public sealed record FrontDoorMetadata(FrontDoor Door);

/// <summary>The Kestrel listeners of both front doors; ports are read after binding, so port 0 (tests) works.</summary>
public sealed class FrontDoorBindings
{
    internal ListenOptions? OllamaListener { get; set; }
    internal ListenOptions? GatewayListener { get; set; }

    public int OllamaPort => PortOf(OllamaListener);
    public int GatewayPort => PortOf(GatewayListener);

    public FrontDoor? Resolve(int localPort) =>
        localPort == OllamaPort ? FrontDoor.Ollama : localPort == GatewayPort ? FrontDoor.OpenAI : null;

    private static int PortOf(ListenOptions? listener) => listener?.EndPoint is IPEndPoint ip ? ip.Port : 0;
}

/// <summary>
/// Routes a request only to endpoints of the front door whose port it arrived on. The Host header can't be used:
/// behind Docker port mapping it names the published port, not ours.
/// </summary>
public sealed class FrontDoorMatcherPolicy(FrontDoorBindings bindings) : MatcherPolicy, IEndpointSelectorPolicy
{
    public override int Order => 0;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) =>
        endpoints.Any(e => e.Metadata.GetMetadata<FrontDoorMetadata>() is not null);

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var door = bindings.Resolve(httpContext.Connection.LocalPort);
        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates[i].Endpoint.Metadata.GetMetadata<FrontDoorMetadata>() is { } metadata && metadata.Door != door)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}

public static class FrontDoorExtensions
{
    /// <summary>The front door that served this request, from its endpoint metadata.</summary>
    public static FrontDoor? GetFrontDoor(this HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<FrontDoorMetadata>()?.Door;
}
