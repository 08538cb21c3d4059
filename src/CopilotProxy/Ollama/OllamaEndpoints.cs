using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Hosting;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace CopilotProxy.Ollama;

/// <summary>The Ollama front door's native routes (protocol.md §2.2). Copilot's chat goes through the OpenAI routes on this port.</summary>
public static class OllamaEndpoints
{
    private const string Banner = "Ollama is running";

    public static RouteGroupBuilder MapOllamaApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(string.Empty).WithMetadata(new FrontDoorMetadata(FrontDoor.Ollama));

        group.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], Root);
        group.MapMethods("/api/version", [HttpMethods.Get, HttpMethods.Head], Version);
        group.MapMethods("/api/tags", [HttpMethods.Get, HttpMethods.Head], Tags);
        group.MapPost("/api/show", Show);
        group.MapGet("/api/ps", Ps);

        return group;
    }

    private static ContentHttpResult Root() => TypedResults.Text(Banner, "text/plain; charset=utf-8");

    private static JsonHttpResult<VersionResponse> Version(ProxySettings settings) =>
        TypedResults.Json(new VersionResponse(settings.OllamaVersion), OllamaJsonContext.Default.VersionResponse);

    private static async Task Tags(HttpContext context, ModelCatalog catalog)
    {
        if (await SnapshotAsync(context, catalog) is not { } snapshot)
        {
            return;
        }

        var models = snapshot.Models.Select(OllamaModelProjection.ToListModel).ToList();
        await context.Response.WriteAsJsonAsync(new TagsResponse(models), OllamaJsonContext.Default.TagsResponse, contentType: null, context.RequestAborted);
    }

    private static async Task Show(HttpContext context, ModelCatalog catalog)
    {
        ShowRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, OllamaJsonContext.Default.ShowRequest, context.RequestAborted);
        }
        catch (JsonException)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid JSON in request body");
            return;
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await OllamaErrors.WriteAsync(context, ex.StatusCode, "request body too large");
            return;
        }

        var name = request?.Model is { Length: > 0 } m ? m : request?.Name;
        if (string.IsNullOrEmpty(name))
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "model is required");
            return;
        }

        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(name, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OllamaErrors.WriteAsync(context, failure);
            return;
        }

        if (model is null)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status404NotFound, OllamaErrors.ModelNotFound(name));
            return;
        }

        await context.Response.WriteAsJsonAsync(OllamaModelProjection.ToShowResponse(model), OllamaJsonContext.Default.ShowResponse, contentType: null, context.RequestAborted);
    }

    private static async Task Ps(HttpContext context, ModelCatalog catalog)
    {
        if (await SnapshotAsync(context, catalog) is not { } snapshot)
        {
            return;
        }

        var loaded = snapshot.Models.Where(m => m.Loaded).Select(OllamaModelProjection.ToProcessModel).ToList();
        await context.Response.WriteAsJsonAsync(new PsResponse(loaded), OllamaJsonContext.Default.PsResponse, contentType: null, context.RequestAborted);
    }

    private static async Task<CatalogSnapshot?> SnapshotAsync(HttpContext context, ModelCatalog catalog)
    {
        try
        {
            return await catalog.GetAsync(context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OllamaErrors.WriteAsync(context, failure);
            return null;
        }
    }
}
