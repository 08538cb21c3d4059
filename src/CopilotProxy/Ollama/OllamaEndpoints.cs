using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Loading;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace CopilotProxy.Ollama;

/// <summary>The Ollama front door's native routes (docs/protocol.md §2.2). Copilot's chat goes through the OpenAI routes on this port.</summary>
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
    /// before use keep working. Any other model is downloaded through LM Studio's download API (0.4 and newer), with its
    /// progress as Ollama's pull progress; the name must be one LM Studio's catalog knows (e.g. <c>qwen/qwen3-8b</c>).
    /// </summary>
    private static async Task Pull(HttpContext context, ModelCatalog catalog, ModelDownloads downloads)
    {
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.ModelRequest) is not { } request)
        {
            return;
        }

        if (string.IsNullOrEmpty(request.ModelName))
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "model is required");
            return;
        }

        var name = request.ModelName;
        CatalogModel? known;
        try
        {
            known = await catalog.FindAsync(name, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OllamaErrors.WriteAsync(context, failure);
            return;
        }

        if (known is null && !downloads.Supported)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status404NotFound,
                $"model '{name}' is not in LM Studio, and LM Studio at {downloads.UpstreamUrl} has no download API (it needs LM Studio 0.4 or newer): download it in LM Studio (Discover tab, or `lms get {name}`) and it appears here");
            return;
        }

        var key = name.EndsWith(":latest", StringComparison.OrdinalIgnoreCase) ? name[..^":latest".Length] : name;
        var stream = request.Stream != false;
        var output = context.Response.BodyWriter;
        var started = false;
        using var lines = new NdjsonWriter(output);

        async ValueTask WriteStatusAsync(string status, long? total = null, long? completed = null)
        {
            if (!started)
            {
                started = true;
                context.Response.ContentType = "application/x-ndjson";
                context.Response.Headers.CacheControl = "no-cache";
                WriteStatus("pulling manifest");
            }

            WriteStatus(status, total, completed);
            await output.FlushAsync(context.RequestAborted);
        }

        void WriteStatus(string status, long? total = null, long? completed = null)
        {
            var json = lines.BeginLine();
            json.WriteStartObject();
            json.WriteString("status"u8, status);
            if (total is { } t)
            {
                json.WriteString("digest"u8, "sha256:" + OllamaModelProjection.Digest(key));
                json.WriteNumber("total"u8, t);
                json.WriteNumber("completed"u8, completed ?? 0);
            }

            json.WriteEndObject();
            lines.EndLine();
        }

        if (known is null)
        {
            try
            {
                await downloads.PullAsync(key, progress => stream ? WriteStatusAsync($"downloading {key}", progress.Total, progress.Completed) : ValueTask.CompletedTask,
                    context.RequestAborted);
            }
            catch (UpstreamException failure)
            {
                if (!started)
                {
                    await OllamaErrors.WriteAsync(context, failure);
                    return;
                }

                // The 200 and the progress are on the wire: Ollama's final {"error"} line is all that is left.
                lines.WriteError(failure.Message);
                await FinalFlush.TryAsync(output);
                return;
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client left; LM Studio keeps downloading, and the model appears in the catalog when it is done.
                return;
            }
        }

        if (!stream)
        {
            await ReadableJson.WriteAsync(context.Response, new StatusResponse("success"), OllamaResponseJsonContext.Default.StatusResponse, context.RequestAborted);
            return;
        }

        if (!started)
        {
            await WriteStatusAsync("verifying sha256 digest");
        }
        else
        {
            WriteStatus("verifying sha256 digest");
        }

        WriteStatus("writing manifest");
        WriteStatus("success");
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

        var telemetry = context.GetRequestTelemetry();
        telemetry.ClientModel = name;
        try
        {
            if (await catalog.FindAsync(name, context.RequestAborted) is { } model)
            {
                telemetry.UpstreamModel = model.UpstreamId;
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

    private static IResult Version(ProxySettings settings) =>
        ReadableJson.Result(new VersionResponse(settings.OllamaVersion), OllamaJsonContext.Default.VersionResponse);

    /// <summary>Answered at once, without asking the upstream: the extension holds its whole model list until this returns.</summary>
    private static IResult Recommendations() =>
        ReadableJson.Result(new RecommendationsResponse([]), OllamaResponseJsonContext.Default.RecommendationsResponse);

    private static async Task Tags(HttpContext context, ModelCatalog catalog)
    {
        if (await SnapshotAsync(context, catalog) is not { } snapshot)
        {
            return;
        }

        var models = snapshot.Models.Select(OllamaModelProjection.ToListModel).ToList();
        await ReadableJson.WriteAsync(context.Response, new TagsResponse(models), OllamaResponseJsonContext.Default.TagsResponse, context.RequestAborted);
    }

    private static async Task Show(HttpContext context, ModelCatalog catalog)
    {
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.ShowRequest) is not { } request
            || await RequireModelAsync(context, catalog, request.Model is { Length: > 0 } model ? model : request.Name, OllamaErrors.ModelNotFound) is not { } found)
        {
            return;
        }

        await ReadableJson.WriteAsync(context.Response, OllamaModelProjection.ToShowResponse(found), OllamaResponseJsonContext.Default.ShowResponse, context.RequestAborted);
    }

    private static async Task Ps(HttpContext context, ModelCatalog catalog, ModelLifecycle lifecycle)
    {
        if (await SnapshotAsync(context, catalog) is not { } snapshot)
        {
            return;
        }

        var loaded = snapshot.Models.Where(m => m.Loaded).Select(m => OllamaModelProjection.ToProcessModel(m, lifecycle.ExpiresAt(m))).ToList();
        await ReadableJson.WriteAsync(context.Response, new PsResponse(loaded), OllamaResponseJsonContext.Default.PsResponse, context.RequestAborted);
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
