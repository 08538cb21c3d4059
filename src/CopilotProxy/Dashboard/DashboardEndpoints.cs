using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Dashboard.Wire;
using CopilotProxy.Http;
using CopilotProxy.Loading;
using CopilotProxy.OpenAI;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace CopilotProxy.Dashboard;

/// <summary>
/// The dashboard on the gateway port: <c>GET /ui</c> (the page, embedded in the binary; <c>GET /</c> redirects there) and
/// its API under <c>/ui/api</c>, which needs the gateway key when one is set. The page itself is open: it holds no data
/// and asks for the key.
/// </summary>
public static class DashboardEndpoints
{
    public const string PagePath = "/ui";

    public static RouteGroupBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        var gateway = app.MapGroup(string.Empty).WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI));
        gateway.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], (HttpContext context) =>
        {
            context.Response.Redirect(PagePath);
            return Task.CompletedTask;
        });
        gateway.MapMethods(PagePath, [HttpMethods.Get, HttpMethods.Head], (HttpContext context) => ServeAsync(context, "index.html"));
        gateway.MapMethods(PagePath + "/{file}", [HttpMethods.Get, HttpMethods.Head], (HttpContext context, string file) => ServeAsync(context, file));

        var api = gateway.MapGroup(PagePath + "/api").WithMetadata(GatewayKeyRequired.Instance);
        api.MapGet("/state", StateAsync);
        api.MapGet("/events", EventsAsync);
        api.MapGet("/requests/{id}", InspectAsync);
        api.MapPost("/models/load", (HttpContext context, ModelCatalog catalog, ModelActions actions) => ActAsync(context, catalog, actions, load: true));
        api.MapPost("/models/unload", (HttpContext context, ModelCatalog catalog, ModelActions actions) => ActAsync(context, catalog, actions, load: false));
        return api;
    }

    /// <summary>
    /// Serves an embedded file: gzip when the browser takes it (compressed once, at first use), an ETag so a reload
    /// costs a 304, and <c>no-cache</c> so a new binary's page shows at once rather than after a cache lifetime.
    /// </summary>
    private static async Task ServeAsync(HttpContext context, string file)
    {
        if (DashboardAssets.Find(file) is not { } asset)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"The dashboard has no file '{file}'; open {PagePath}.", code: "unknown_url");
            return;
        }

        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache";
        headers.Vary = "Accept-Encoding";
        headers.XContentTypeOptions = "nosniff";
        if (asset.ContentType.StartsWith("text/html", StringComparison.Ordinal))
        {
            // Everything the page needs comes from this origin; nothing may frame it (clickjacking the load buttons).
            headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
        }

        if (context.Request.Headers.IfNoneMatch.Any(tag => tag == asset.ETag))
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        var gzip = context.Request.Headers.AcceptEncoding.Any(v => v is not null && v.Contains("gzip", StringComparison.OrdinalIgnoreCase));
        var body = gzip ? asset.Gzip : asset.Raw;
        if (gzip)
        {
            headers.ContentEncoding = "gzip";
        }

        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }
    }

    private static async Task StateAsync(HttpContext context, ModelCatalog catalog, UpstreamRegistry registry, LiveTraffic traffic, ModelActions actions,
        ModelLifecycle lifecycle, UpstreamProbe probe, FrontDoorBindings bindings, TimeProvider time)
    {
        var snapshot = catalog.Current;
        string? catalogError = null;
        if (snapshot is null)
        {
            try
            {
                snapshot = await catalog.GetAsync(context.RequestAborted);
            }
            catch (UpstreamException failure)
            {
                catalogError = failure.Message;
            }
        }

        var statuses = catalog.Upstreams;
        var upstreams = statuses.Count > 0
            ? await Task.WhenAll(statuses.Select(async s => new DashboardUpstream(
                PublicUrl(s.Upstream), s.LastFailure is null && s.LastSuccess is not null, s.Source?.ToString(), s.Models.Count, s.LastSuccess, s.LastFailure?.Message,
                await probe.LatencyAsync(s.Upstream, context.RequestAborted))))
            : [new DashboardUpstream(PublicUrl(registry.Default), false, null, 0, null, catalogError, await probe.LatencyAsync(registry.Default, context.RequestAborted))];

        var now = time.GetUtcNow();
        var models = snapshot?.Models.Select(m => new DashboardModel(
            m.Id, m.UpstreamId, m.Upstream is { } u ? PublicUrl(u) : string.Empty, m.Kind == ModelKind.Embedding ? "embedding" : "llm", Capabilities(m),
            m.Loaded, m.LoadedContextLength, m.MaxContextLength, m.ContextLength, TtlSeconds(lifecycle, m, now), m.Source == CatalogSource.LmStudioV1)).ToList() ?? [];

        var host = context.Request.Host.Host is { Length: > 0 } h ? h : "127.0.0.1";
        var state = new DashboardState(
            ProductVersion.Current,
            StartedAt,
            GatewayAuth.ConfiguredKey(context.RequestServices) is not null,
            upstreams,
            models,
            catalogError ?? catalog.LastFailure?.Message,
            new DashboardTraffic(DashboardEvents.InFlightNow(traffic, now), traffic.Recent(), traffic.Totals()),
            actions.Jobs,
            new FrontDoorUrls(HostUrl(context, host, bindings.OllamaPort), HostUrl(context, host, bindings.GatewayPort)));
        context.Response.Headers.CacheControl = "no-store";
        await ReadableJson.WriteAsync(context.Response, state, DashboardJsonContext.Default.DashboardState, context.RequestAborted);
    }

    /// <summary>The request inspector: one of the last 200 requests, with its bodies when CAPTURE_BODIES kept them.</summary>
    private static async Task InspectAsync(HttpContext context, string id, LiveTraffic traffic, CaptureStore captures, ProxySettings settings)
    {
        if (!long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number)
            || traffic.Inspect(number) is not { } inspection)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound,
                $"No request {id} among the last {LiveTraffic.Capacity}; the inspector keeps only those, in memory.", code: "request_not_found");
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        var answer = new DashboardInspection(inspection, captures.Find(number), settings.CaptureBodies, captures.Limit);
        await ReadableJson.WriteAsync(context.Response, answer, DashboardJsonContext.Default.DashboardInspection, context.RequestAborted);
    }

    /// <summary>
    /// The live event stream (SSE): the traffic as it stands, then each finished request, the in-flight list (on every
    /// change and once a second while not empty) and model jobs. The page reads it with fetch, not EventSource, because
    /// EventSource can't send the Authorization header and a key in the URL would end up in logs and history.
    /// </summary>
    private static async Task EventsAsync(HttpContext context, DashboardEvents events, LiveTraffic traffic, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache, no-store";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var reader = events.Subscribe(out var unsubscribe);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var token = stop.Token;
        try
        {
            var snapshot = new DashboardTraffic(DashboardEvents.InFlightNow(traffic, time.GetUtcNow()), traffic.Recent(), traffic.Totals());
            await WriteAsync(context, DashboardEvents.Frame("traffic", ReadableJson.SerializeToUtf8Bytes(snapshot, DashboardJsonContext.Default.DashboardTraffic)), token);

            Task<bool>? waiting = null;
            var quietTicks = 0;
            while (!token.IsCancellationRequested)
            {
                waiting ??= reader.WaitToReadAsync(token).AsTask();
                var tick = Task.Delay(TimeSpan.FromSeconds(1), time, token);
                if (await Task.WhenAny(waiting, tick) == waiting)
                {
                    if (!await waiting)
                    {
                        break;
                    }

                    waiting = null;
                    while (reader.TryRead(out var frame))
                    {
                        await context.Response.Body.WriteAsync(frame, token);
                    }

                    await context.Response.Body.FlushAsync(token);
                    quietTicks = 0;
                    continue;
                }

                var inFlight = DashboardEvents.InFlightNow(traffic, time.GetUtcNow());
                if (inFlight.Count > 0)
                {
                    await WriteAsync(context, DashboardEvents.Frame("inflight", ReadableJson.SerializeToUtf8Bytes(inFlight, DashboardJsonContext.Default.IReadOnlyListDashboardInFlight)), token);
                }
                else if (++quietTicks >= 15)
                {
                    // A comment line now and then, so idle-connection reapers between browser and proxy keep the stream.
                    await WriteAsync(context, ": keep-alive\n\n"u8.ToArray(), token);
                    quietTicks = 0;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The page closed, or the proxy is stopping: the stream simply ends.
        }
        finally
        {
            unsubscribe();
        }
    }

    private static async Task WriteAsync(HttpContext context, byte[] frame, CancellationToken token)
    {
        await context.Response.Body.WriteAsync(frame, token);
        await context.Response.Body.FlushAsync(token);
    }

    /// <summary>
    /// Starts a load or unload and answers 202 with the job at once; the page follows the job on the event stream.
    /// Only JSON bodies are accepted, and only from this origin: with no gateway key set, that keeps another site's
    /// form or script from pressing the buttons (a cross-site JSON POST needs a CORS preflight the proxy never grants).
    /// </summary>
    private static async Task ActAsync(HttpContext context, ModelCatalog catalog, ModelActions actions, bool load)
    {
        if (context.Request.Headers.Origin is { Count: > 0 } origin
            && !(Uri.TryCreate(origin.ToString(), UriKind.Absolute, out var originUri) && string.Equals(originUri.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase)))
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status403Forbidden, $"The dashboard's actions accept requests from its own page only, not from {origin}.", code: "cross_origin");
            return;
        }

        if (!context.Request.HasJsonContentType())
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "Send a JSON body: {\"model\":\"<model id>\"} with Content-Type: application/json.");
            return;
        }

        ModelActionRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, DashboardRequestJsonContext.Default.ModelActionRequest, context.RequestAborted);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request?.Model is not { Length: > 0 } name)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "Send a JSON body naming the model: {\"model\":\"<model id>\"}.", param: "model");
            return;
        }

        var telemetry = context.GetRequestTelemetry();
        telemetry.ClientModel = name;
        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(name, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OpenAIErrors.WriteAsync(context, failure);
            return;
        }

        if (model is null)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"The model '{name}' is not in the model catalog.", code: "model_not_found", param: "model");
            return;
        }

        telemetry.UpstreamModel = model.UpstreamId;
        if (model.Source != CatalogSource.LmStudioV1)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status409Conflict,
                $"The upstream of '{name}' has no load or unload API (LM Studio 0.4 or later has one); it loads the model on its first request.", code: "unsupported");
            return;
        }

        var job = actions.Start(model, load);
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await ReadableJson.WriteAsync(context.Response, job, DashboardJsonContext.Default.ModelJob, context.RequestAborted);
    }

    /// <summary>Seconds until LM Studio unloads an idle loaded model, when a client's keep_alive set its TTL; null when the upstream's own TTL applies.</summary>
    private static int? TtlSeconds(ModelLifecycle lifecycle, CatalogModel model, DateTimeOffset now) =>
        model.Loaded && lifecycle.ExpiresAt(model) is { } at ? (int)Math.Max(0, Math.Ceiling((at - now).TotalSeconds)) : null;

    private static List<string> Capabilities(CatalogModel model)
    {
        List<string> capabilities = [];
        if (model.Kind == ModelKind.Embedding)
        {
            capabilities.Add("embedding");
        }

        if (model.Tools)
        {
            capabilities.Add("tools");
        }

        if (model.Vision)
        {
            capabilities.Add("vision");
        }

        if (model.Thinking)
        {
            capabilities.Add("thinking");
        }

        return capabilities;
    }

    /// <summary>The upstream's address without any user:password part, which must never reach the page.</summary>
    private static string PublicUrl(UpstreamClient upstream)
    {
        var url = new UriBuilder(new Uri(upstream.Target.ToString())) { UserName = string.Empty, Password = string.Empty };
        return url.Uri.ToString();
    }

    private static string HostUrl(HttpContext context, string host, int port) =>
        $"{context.Request.Scheme}://{(host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host)}:{port}";

    private static readonly DateTimeOffset StartedAt = DateTimeOffset.UtcNow;
}
