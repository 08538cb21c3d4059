using CopilotProxy.Http;
using CopilotProxy.Ollama;
using CopilotProxy.OpenAI;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CopilotProxy.Hosting;

/// <summary>
/// What a request no route takes is answered, in its front door's error shape: 405 with <c>Allow</c> when the path is a
/// route of that door called with another method (as Ollama, OpenAI and LiteLLM answer), 404 otherwise.
/// </summary>
/// <remarks>
/// The fallback route matches every method, so routing's own 405 never happens; the methods are looked up here instead,
/// from the route table once it is complete (at the first unknown request). Only routes without parameters are known
/// this way, which is every route a client could call with the wrong verb by mistake.
/// </remarks>
internal static class UnknownRoutes
{
    public static void MapUnknownRoutes(this IEndpointRouteBuilder app)
    {
        var methods = new Lazy<Dictionary<string, string>>(() => MethodsByRoute(app), LazyThreadSafetyMode.ExecutionAndPublication);
        app.MapGroup(string.Empty).WithMetadata(new FrontDoorMetadata(FrontDoor.Ollama)).MapFallback((HttpContext context) =>
            Allowed(context, methods.Value, FrontDoor.Ollama) is { } allow
                ? OllamaErrors.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, $"method not allowed: {context.Request.Method} {context.Request.Path} takes {allow}")
                : OllamaErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"unknown endpoint: {context.Request.Method} {context.Request.Path}"));
        app.MapGroup(string.Empty).WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI)).MapFallback((HttpContext context) =>
            Allowed(context, methods.Value, FrontDoor.OpenAI) is { } allow
                ? OpenAIErrors.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, $"Method not allowed: {context.Request.Method} {context.Request.Path} takes {allow}.", code: "method_not_allowed")
                : OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"Unknown endpoint: {context.Request.Method} {context.Request.Path}", code: "unknown_url"));
    }

    /// <summary>The methods the request's path takes on this door, also set as the answer's <c>Allow</c>; null for an unknown path.</summary>
    private static string? Allowed(HttpContext context, Dictionary<string, string> methods, FrontDoor door)
    {
        if (!methods.TryGetValue(Key(door, context.Request.Path.Value ?? "/"), out var allow))
        {
            return null;
        }

        context.Response.Headers.Allow = allow;
        return allow;
    }

    private static Dictionary<string, string> MethodsByRoute(IEndpointRouteBuilder app)
    {
        var methods = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var source in app.DataSources)
        {
            foreach (var endpoint in source.Endpoints)
            {
                if (endpoint is RouteEndpoint { RoutePattern: { Parameters.Count: 0, RawText: { } pattern } } route
                    && route.Metadata.GetMetadata<FrontDoorMetadata>() is { } door
                    && route.Metadata.GetMetadata<IHttpMethodMetadata>() is { HttpMethods.Count: > 0 } verbs)
                {
                    var key = Key(door.Door, "/" + pattern.TrimStart('/'));
                    var these = string.Join(", ", verbs.HttpMethods);
                    methods[key] = methods.TryGetValue(key, out var known) ? known + ", " + these : these;
                }
            }
        }

        return methods;
    }

    private static string Key(FrontDoor door, string path) => (door == FrontDoor.Ollama ? "o" : "g") + path.TrimEnd('/');
}
