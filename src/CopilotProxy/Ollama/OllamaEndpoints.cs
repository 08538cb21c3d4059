using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
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
        group.MapGet("/api/experimental/model-recommendations", Recommendations);

        group.MapPost("/api/chat", Chat);
        group.MapPost("/api/generate", Generate);
        group.MapPost("/api/embed", Embed);
        group.MapPost("/api/embeddings", Embeddings);

        group.MapPost("/api/pull", Pull);
        group.MapPost("/api/push", Push);
        group.MapPost("/api/create", Create);
        group.MapPost("/api/copy", Copy);
        group.MapDelete("/api/delete", Delete);
        group.MapMethods("/api/blobs/{digest}", [HttpMethods.Head], BlobExists);
        group.MapPost("/api/blobs/{digest}", BlobUpload);

        return group;
    }

    private static Task Chat(HttpContext context, ChatHandler handler) => handler.HandleAsync(context);

    private static Task Generate(HttpContext context, GenerateHandler handler) => handler.HandleAsync(context);

    private static Task Embed(HttpContext context, EmbedHandler handler) => handler.EmbedAsync(context);

    private static Task Embeddings(HttpContext context, EmbedHandler handler) => handler.EmbeddingsAsync(context);

    /// <summary>
    /// A model LM Studio already has is "pulled": the answer is the progress of an up-to-date pull, so scripts that pull
    /// before use keep working. The proxy can't download: Ollama names don't map to LM Studio's catalog keys.
    /// </summary>
    private static async Task Pull(HttpContext context, ModelCatalog catalog)
    {
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.ModelRequest) is not { } request
            || await RequireModelAsync(context, catalog, request.ModelName,
                name => $"model '{name}' is not in LM Studio, and the proxy can't download models: download it in LM Studio (Discover tab, or `lms get {name}`) and it appears here") is null)
        {
            return;
        }

        if (request.Stream == false)
        {
            await context.Response.WriteAsJsonAsync(new StatusResponse("success"), OllamaJsonContext.Default.StatusResponse, contentType: null, context.RequestAborted);
            return;
        }

        context.Response.ContentType = "application/x-ndjson";
        var output = context.Response.BodyWriter;
        using (var lines = new NdjsonWriter(output))
        {
            foreach (var status in (ReadOnlySpan<string>)["pulling manifest", "verifying sha256 digest", "writing manifest", "success"])
            {
                var json = lines.BeginLine();
                json.WriteStartObject();
                json.WriteString("status"u8, status);
                json.WriteEndObject();
                lines.EndLine();
            }
        }

        await output.FlushAsync(context.RequestAborted);
    }

    private static Task Push(HttpContext context) =>
        OllamaErrors.WriteAsync(context, StatusCodes.Status501NotImplemented,
            "push is not supported: copilot-proxy serves LM Studio's models and has no registry to push to");

    private static Task Create(HttpContext context) =>
        OllamaErrors.WriteAsync(context, StatusCodes.Status501NotImplemented,
            "create is not supported: LM Studio has no Modelfiles. Set a model's system prompt and parameters in LM Studio (My Models > model settings), or send them with each request (a system message and options)");

    private static async Task Copy(HttpContext context, ModelCatalog catalog)
    {
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.CopyRequest) is not { } request
            || await RequireModelAsync(context, catalog, request.Source, OllamaErrors.ModelNotFound) is not { } model)
        {
            return;
        }

        await OllamaErrors.WriteAsync(context, StatusCodes.Status501NotImplemented,
            $"copy is not supported: LM Studio names models by their key and has no aliases; use '{model.OllamaName}' directly");
    }

    private static async Task Delete(HttpContext context, ModelCatalog catalog)
    {
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.ModelRequest) is not { } request
            || await RequireModelAsync(context, catalog, request.ModelName, OllamaErrors.ModelNotFound) is not { } model)
        {
            return;
        }

        await OllamaErrors.WriteAsync(context, StatusCodes.Status501NotImplemented,
            $"delete is not supported through the proxy: LM Studio owns the model files; delete '{model.UpstreamId}' in LM Studio (My Models tab)");
    }

    /// <summary><c>ollama create</c> asks whether a blob exists before uploading it; none ever does here.</summary>
    private static Task BlobExists(HttpContext context, string digest) =>
        OllamaErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"blob {digest} not found: the proxy stores no blobs");

    private static Task BlobUpload(HttpContext context) =>
        OllamaErrors.WriteAsync(context, StatusCodes.Status501NotImplemented,
            "blob upload is not supported: LM Studio imports model files itself (`lms import <file.gguf>`), then the model appears here");

    /// <summary>The model named by a management request; writes 400 without a name, 404 (with <paramref name="notFound"/>) when unknown.</summary>
    private static async Task<CatalogModel?> RequireModelAsync(HttpContext context, ModelCatalog catalog, string? name, Func<string, string> notFound)
    {
        if (string.IsNullOrEmpty(name))
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "model is required");
            return null;
        }

        try
        {
            if (await catalog.FindAsync(name, context.RequestAborted) is { } model)
            {
                return model;
            }
        }
        catch (UpstreamException failure)
        {
            await OllamaErrors.WriteAsync(context, failure);
            return null;
        }

        await OllamaErrors.WriteAsync(context, StatusCodes.Status404NotFound, notFound(name));
        return null;
    }

    private static ContentHttpResult Root() => TypedResults.Text(Banner, "text/plain; charset=utf-8");

    private static JsonHttpResult<VersionResponse> Version(ProxySettings settings) =>
        TypedResults.Json(new VersionResponse(settings.OllamaVersion), OllamaJsonContext.Default.VersionResponse);

    /// <summary>Answered at once, without asking the upstream: the extension holds its whole model list until this returns.</summary>
    private static JsonHttpResult<RecommendationsResponse> Recommendations() =>
        TypedResults.Json(new RecommendationsResponse([]), OllamaJsonContext.Default.RecommendationsResponse);

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
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.ShowRequest) is not { } request
            || await RequireModelAsync(context, catalog, request.Model is { Length: > 0 } model ? model : request.Name, OllamaErrors.ModelNotFound) is not { } found)
        {
            return;
        }

        await context.Response.WriteAsJsonAsync(OllamaModelProjection.ToShowResponse(found), OllamaJsonContext.Default.ShowResponse, contentType: null, context.RequestAborted);
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
