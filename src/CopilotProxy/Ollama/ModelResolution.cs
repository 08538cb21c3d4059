using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CopilotProxy.Catalog;
using CopilotProxy.Http;
using CopilotProxy.Keys;
using CopilotProxy.Loading;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;
using CopilotProxy.Routing;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Ollama;

/// <summary>
/// What every translated Ollama route shares: reading the request body, resolving the model in the model catalog, the
/// fields common to all requests (think, keep_alive), and loading or unloading the model around a request.
/// </summary>
public sealed class ModelResolution(ModelCatalog catalog, UpstreamClient upstream, ModelLifecycle lifecycle, ILogger<ModelResolution> logger)
{
    internal const string Door = "Ollama";

    /// <summary>Reads the request body into a typed Ollama request; malformed JSON or a missing body is the client's error (400).</summary>
    internal static async Task<T?> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class
    {
        var body = await ClientJsonBody.ReadAsync(context, type);
        if (body.Value is { } request)
        {
            return request;
        }

        var message = body.Problem switch
        {
            ClientBodyProblem.TooLarge => "request body too large; raise MAX_REQUEST_BODY_MB if this request is legitimate (large images, long contexts)",
            ClientBodyProblem.Malformed =>
                $"invalid request body{(body.Path is { Length: > 1 } path ? $" at {path}" : string.Empty)}{(body.Line is { } line ? $" (line {line + 1}, position {body.Position + 1})" : string.Empty)}: malformed JSON, or a value of the wrong type",
            _ => "missing request body",
        };
        await OllamaErrors.WriteAsync(context, body.Status, message);
        return null;
    }

    /// <summary>Finds the model, writing Ollama's error (400 no model, 404 unknown, 502 upstream down, 400 wrong kind) when it can't be used.</summary>
    internal async Task<CatalogModel?> ResolveAsync(HttpContext context, string? name, string operation)
    {
        if (string.IsNullOrEmpty(name))
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "model is required");
            return null;
        }

        // Named before the lookup, so the request log names the model on every outcome: embeddings, load and unload included.
        var telemetry = context.GetRequestTelemetry();
        telemetry.ClientModel = name;
        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(name, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, Door, context.Request.Path, failure))
            {
                await OllamaErrors.WriteAsync(context, failure);
            }

            return null;
        }

        if (model is null)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status404NotFound, OllamaErrors.ModelNotFound(name));
            return null;
        }

        if (context.ModelRefusal(model.Id) is { } refusal)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status401Unauthorized, refusal);
            return null;
        }

        telemetry.UpstreamModel = model.UpstreamId;
        var embeddingRoute = operation is "embed" or "embeddings";
        if (!embeddingRoute && model.Kind == ModelKind.Embedding)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, $"\"{name}\" does not support {operation}");
            return null;
        }

        return model;
    }

    internal readonly record struct CommonFields(ThinkSetting Think, TimeSpan? KeepAlive);

    internal static async Task<CommonFields?> ParseCommonAsync(HttpContext context, JsonElement? think, JsonElement? keepAlive, CatalogModel? model = null)
    {
        if (!ChatTranslation.TryParseThink(think, out var thinkSetting, out var error)
            || !ChatTranslation.TryParseKeepAlive(keepAlive, out var keepAliveValue, out error))
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, error!);
            return null;
        }

        if (model is not null && thinkSetting is not (ThinkSetting.Unset or ThinkSetting.Off) && CannotThink(model))
        {
            // Ollama's words and status (server/routes.go, ChatHandler and GenerateHandler): clients match on them to turn
            // their thinking toggle off, so a think the model can't honour is refused, not silently dropped.
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, $"\"{context.GetRequestTelemetry().ClientModel}\" does not support thinking");
            return null;
        }

        return new CommonFields(thinkSetting, keepAliveValue);
    }

    /// <summary>
    /// True when the model catalog knows the model does not reason: only LM Studio's v1 catalog says so per model (and
    /// config.yaml's <c>supports_reasoning: true</c> overrides it). Elsewhere nobody knows, so the setting is sent and the
    /// upstream decides, as <see cref="Settings"/> does.
    /// </summary>
    private static bool CannotThink(CatalogModel model) => !model.Thinking && model.Source == CatalogSource.LmStudioV1;

    internal static UpstreamRequestSettings Settings(CatalogModel model, CommonFields common) =>
        // Only LM Studio's v1 catalog says whether a model reasons; elsewhere the setting is sent and the upstream decides.
        new(model.UpstreamId, common.Think, model.Source != CatalogSource.LmStudioV1 || model.Thinking, ChatTranslation.TtlSeconds(common.KeepAlive));

    /// <summary>
    /// Ollama's <c>options.num_ctx</c>: Ollama reloads a model for a new one, and so does the proxy (through LM Studio's
    /// load API), so an Ollama client gets the context it asks for. Null when absent or not a positive whole number.
    /// </summary>
    internal static int? NumCtx(GenerationOptions? options) =>
        options?.Unmapped is { } unmapped && unmapped.TryGetValue("num_ctx", out var value) && value.ValueKind == JsonValueKind.Number
            && value.TryGetInt32(out var numCtx) && numCtx > 0 ? numCtx : null;

    /// <summary>Notes the request's keep_alive, so /api/ps can say when LM Studio unloads the model.</summary>
    internal void RecordUse(CatalogModel model, TimeSpan? keepAlive) => lifecycle.RecordUse(model, keepAlive);

    internal void LogIgnoredOptions(string route, GenerationOptions? options)
    {
        if (ChatTranslation.IgnoredOptions(options) is { } ignored)
        {
            OllamaLog.IgnoredOptions(logger, route, ignored);
        }
    }
    /// <summary>Answers an empty chat/generate: Ollama's "load" (or, with keep_alive 0, "unload") call.</summary>
    internal async Task LoadOrUnloadAsync(HttpContext context, string clientModel, CatalogModel model, TimeSpan? keepAlive, OllamaAnswerShape shape, long started,
        int? numCtx = null)
    {
        if (await LifecycleAsync(context, model, keepAlive, numCtx) is not { } outcome)
        {
            return;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        var output = context.Response.BodyWriter;
        using (var lines = new NdjsonWriter(output))
        {
            var json = lines.BeginLine();
            json.WriteStartObject();
            json.WriteString("model"u8, clientModel);
            json.WriteString("created_at"u8, DateTime.UtcNow);
            if (shape == OllamaAnswerShape.Chat)
            {
                json.WriteStartObject("message"u8);
                json.WriteString("role"u8, "assistant"u8);
                json.WriteString("content"u8, ""u8);
                json.WriteEndObject();
            }
            else
            {
                json.WriteString("response"u8, ""u8);
            }

            json.WriteBoolean("done"u8, true);
            json.WriteString("done_reason"u8, outcome.Unloaded ? "unload"u8 : "load"u8);
            json.WriteNumber("total_duration"u8, Stopwatch.GetElapsedTime(started).Ticks * 100);
            if (outcome.LoadDuration is { } load)
            {
                json.WriteNumber("load_duration"u8, load.Ticks * 100);
            }

            json.WriteEndObject();
            lines.EndLine();
        }

        await FinalFlush.TryAsync(output);
    }

    internal readonly record struct LifecycleOutcome(bool Unloaded, TimeSpan? LoadDuration);

    /// <summary>Loads, or unloads for keep_alive 0; writes the error and returns null when that fails.</summary>
    internal async Task<LifecycleOutcome?> LifecycleAsync(HttpContext context, CatalogModel model, TimeSpan? keepAlive, int? numCtx = null)
    {
        using var timeout = new ActivityTimeout(upstream.IdleTimeout, context.RequestAborted);
        try
        {
            if (keepAlive == TimeSpan.Zero)
            {
                if (await lifecycle.UnloadAsync(model, timeout) == UnloadOutcome.Unsupported)
                {
                    await OllamaErrors.WriteAsync(context, StatusCodes.Status501NotImplemented,
                        $"unloading needs LM Studio 0.4 or newer (POST /api/v1/models/unload), which {(model.Upstream ?? upstream).BaseUrl} does not offer; unload '{model.UpstreamId}' in LM Studio instead");
                    return null;
                }

                return new LifecycleOutcome(true, null);
            }

            var duration = await lifecycle.LoadAsync(model, timeout, numCtx);
            lifecycle.RecordUse(model, keepAlive);
            return new LifecycleOutcome(false, duration);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, Door, context.Request.Path, failure))
            {
                await OllamaErrors.WriteAsync(context, failure);
            }

            return null;
        }
    }

    /// <summary>keep_alive 0 with a real request: answer first, then unload, as Ollama does. The client has its answer, so a failure is only logged.</summary>
    internal async Task UnloadAfterRequestAsync(CatalogModel model, TimeSpan? keepAlive)
    {
        if (keepAlive != TimeSpan.Zero)
        {
            return;
        }

        using var timeout = new ActivityTimeout(upstream.IdleTimeout, CancellationToken.None);
        try
        {
            await lifecycle.UnloadAsync(model, timeout);
        }
        catch (UpstreamException failure)
        {
            OllamaLog.UnloadAfterRequestFailed(logger, model.UpstreamId, failure.Message);
        }
    }
}
