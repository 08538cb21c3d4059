using System.Text.Json.Serialization;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace CopilotProxy.Health;

/// <summary>LiteLLM-compatible health routes on the gateway port.</summary>
public static class HealthEndpoints
{
    public static RouteGroupBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI));
        group.MapMethods("/liveliness", [HttpMethods.Get, HttpMethods.Head], Liveness);
        group.MapMethods("/liveness", [HttpMethods.Get, HttpMethods.Head], Liveness);
        group.MapMethods("/readiness", [HttpMethods.Get, HttpMethods.Head], Readiness);
        return group;
    }

    private static ContentHttpResult Liveness() => TypedResults.Text("I'm alive!", "text/plain; charset=utf-8");

    /// <summary>Ready when the upstream answered within HEALTH_CHECK_INTERVAL (plus one refresh of slack) and we are not draining.</summary>
    private static JsonHttpResult<ReadinessReport> Readiness(ModelCatalog catalog, ProxySettings settings, IHostApplicationLifetime lifetime, TimeProvider time)
    {
        var draining = lifetime.ApplicationStopping.IsCancellationRequested;
        var freshness = settings.HealthCheckInterval > settings.ModelRefreshInterval ? settings.HealthCheckInterval : settings.ModelRefreshInterval;
        var upstreamOk = catalog.LastFailure is null && catalog.LastSuccess is { } last && time.GetUtcNow() - last <= freshness + settings.HealthCheckInterval;
        var ready = !draining && upstreamOk;
        var report = new ReadinessReport(
            ready ? "ready" : "not ready",
            draining,
            settings.LmStudioUrl.ToString(),
            upstreamOk,
            catalog.LastFailure?.Message,
            catalog.Current?.Models.Count ?? 0);
        return TypedResults.Json(report, HealthJsonContext.Default.ReadinessReport, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}

public sealed record ReadinessReport(string Status, bool Draining, string Upstream, bool UpstreamReachable, string? UpstreamError, int Models);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReadinessReport))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
