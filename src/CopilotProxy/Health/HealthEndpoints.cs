using System.Text.Json.Serialization;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Routing;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace CopilotProxy.Health;

/// <summary>LiteLLM-compatible health routes on the gateway port: the liveness and readiness probes are open, the full report needs a key.</summary>
public static class HealthEndpoints
{
    public static RouteGroupBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI));
        group.MapMethods("/liveliness", [HttpMethods.Get, HttpMethods.Head], Liveness);
        group.MapMethods("/liveness", [HttpMethods.Get, HttpMethods.Head], Liveness);
        group.MapMethods("/readiness", [HttpMethods.Get, HttpMethods.Head], Readiness);
        // The full report names every deployment's api_base, so it needs a key, as in LiteLLM; the probes stay open.
        group.MapGet(string.Empty, Report).WithMetadata(GatewayKeyRequired.Instance);
        return group;
    }

    private static ContentHttpResult Liveness() => TypedResults.Text("I'm alive!", "text/plain; charset=utf-8");

    /// <summary>Ready when an upstream answered within HEALTH_CHECK_INTERVAL (plus one refresh of slack) and we are not draining.</summary>
    private static IResult Readiness(ModelCatalog catalog, ProxySettings settings, IHostApplicationLifetime lifetime, TimeProvider time)
    {
        var draining = lifetime.ApplicationStopping.IsCancellationRequested;
        var freshness = settings.HealthCheckInterval > settings.ModelRefreshInterval ? settings.HealthCheckInterval : settings.ModelRefreshInterval;
        var now = time.GetUtcNow();
        var upstreams = catalog.Upstreams;
        var fresh = upstreams.Where(u => u.LastFailure is null && u.LastSuccess is { } last && now - last <= freshness + settings.HealthCheckInterval).ToList();
        var upstreamOk = fresh.Count > 0;
        var ready = !draining && upstreamOk;
        var report = new ReadinessReport(
            ready ? "ready" : "not ready",
            draining,
            (fresh.Count > 0 ? fresh[0].Upstream : upstreams.Count > 0 ? upstreams[0].Upstream : null)?.Target.ToString() ?? settings.LmStudioUrl.ToString(),
            upstreamOk,
            upstreamOk ? null : (catalog.LastFailure ?? upstreams.Select(u => u.LastFailure).FirstOrDefault(f => f is not null))?.Message,
            catalog.Current?.Models.Count ?? 0,
            fresh.Count,
            upstreams.Count);
        return ReadableJson.Result(report, HealthJsonContext.Default.ReadinessReport, ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>
    /// LiteLLM's <c>/health</c>: every deployment of every model, healthy or unhealthy with the reason, plus one line per
    /// upstream. Discovery runs first (shared with any refresh in flight), so the report is live.
    /// </summary>
    private static async Task<IResult> Report(ModelCatalog catalog, DeploymentCooldowns cooldowns, HttpContext context)
    {
        try
        {
            await catalog.RefreshAsync(context.RequestAborted);
        }
        catch (UpstreamException)
        {
            // Every upstream failed; the per-upstream errors below say how.
        }

        var statuses = catalog.Upstreams;
        var healthy = new List<HealthEndpoint>();
        var unhealthy = new List<HealthEndpoint>();
        foreach (var model in catalog.Current?.Models ?? [])
        {
            foreach (var deployment in model.Deployments)
            {
                var status = statuses.FirstOrDefault(s => s.Upstream == deployment.Upstream);
                var error = status switch
                {
                    null => "the upstream is not part of the configuration in force",
                    { LastFailure: { } failure } => failure.Message,
                    _ when !status.Models.Any(m => m.Id.Equals(deployment.UpstreamModel, StringComparison.OrdinalIgnoreCase)
                        || m.Id.EndsWith("/" + deployment.UpstreamModel, StringComparison.OrdinalIgnoreCase))
                        => $"the upstream does not list the model '{deployment.UpstreamModel}'",
                    _ when cooldowns.CoolingUntil(deployment.Key) is { } until => $"cooling down after repeated failures until {until:O}",
                    _ => null,
                };
                var endpoint = new HealthEndpoint(model.Id, deployment.UpstreamModel, deployment.Upstream.Target.ToString(), error);
                (error is null ? healthy : unhealthy).Add(endpoint);
            }
        }

        var upstreams = statuses.Select(s => new UpstreamHealth(
            s.Upstream.Target.ToString(), s.LastFailure is null, s.Source?.ToString(), s.Models.Count, s.LastSuccess, s.LastFailure?.Message)).ToList();
        var report = new HealthReport(healthy, unhealthy, healthy.Count, unhealthy.Count, upstreams);
        return ReadableJson.Result(report, HealthJsonContext.Default.HealthReport);
    }
}

public sealed record ReadinessReport(string Status, bool Draining, string Upstream, bool UpstreamReachable, string? UpstreamError, int Models,
    int UpstreamsReachable, int Upstreams);

/// <summary>LiteLLM's <c>/health</c> shape, with an <c>upstreams</c> list added.</summary>
public sealed record HealthReport(IReadOnlyList<HealthEndpoint> HealthyEndpoints, IReadOnlyList<HealthEndpoint> UnhealthyEndpoints,
    int HealthyCount, int UnhealthyCount, IReadOnlyList<UpstreamHealth> Upstreams);

/// <summary>One deployment: the public model name, the id the upstream is sent, the upstream, and the error when unhealthy.</summary>
public sealed record HealthEndpoint(string Model, string UpstreamModel, string ApiBase, string? Error);

public sealed record UpstreamHealth(string ApiBase, bool Healthy, string? Discovery, int Models, DateTimeOffset? LastSuccess, string? Error);

// Written only: the fast-path serializer alone, without the metadata reading needs (docs/performance.md, "Footprint").
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(ReadinessReport))]
[JsonSerializable(typeof(HealthReport))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
