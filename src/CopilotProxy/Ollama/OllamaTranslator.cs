using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CopilotProxy.Catalog;
using CopilotProxy.Http;
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
/// The Ollama front door's translated routes: <c>/api/chat</c>, <c>/api/generate</c>, <c>/api/embed</c> and
/// <c>/api/embeddings</c>. Each reads the Ollama request, resolves the model in the model catalog, sends the translated
/// OpenAI request upstream and translates the answer back.
/// </summary>
public sealed class OllamaTranslator(ModelCatalog catalog, UpstreamClient upstream, DeploymentRouter router, ModelLifecycle lifecycle, ILogger<OllamaTranslator> logger)
{
    private const string Door = "Ollama";

    public async Task ChatAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ReadAsync(context, OllamaJsonContext.Default.ChatRequest) is not { } request
            || await ResolveAsync(context, request.Model, "chat") is not { } model
            || await ParseCommonAsync(context, request.Think, request.KeepAlive) is not { } common)
        {
            return;
        }

        var clientModel = request.Model!;
        var messages = request.Messages ?? [];
        var invalid = ChatTranslation.FindNull(messages)
            ?? ChatTranslation.ValidateFormat(request.Format) ?? ChatTranslation.ValidateImages(messages.SelectMany(m => m.Images ?? []));
        if (invalid is not null)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, invalid);
            return;
        }

        if (messages.Count == 0)
        {
            await LoadOrUnloadAsync(context, clientModel, model, common.KeepAlive, OllamaAnswerShape.Chat, started);
            return;
        }

        if (request.Tools is { Count: > 0 } && !model.Tools)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, $"\"{clientModel}\" does not support tools");
            return;
        }

        LogIgnoredOptions("/api/chat", request.Options);
        var settings = Settings(model, common);
        await TranslateAsync(context, model, GenerateTranslation.ChatPath,
            (deployment, body) => ChatTranslation.WriteRequest(request, settings with { UpstreamModel = deployment.UpstreamModel, Defaults = deployment.Defaults }, body),
            clientModel, OllamaAnswerShape.Chat, request.Stream ?? true, common.Think != ThinkSetting.Off, started);
        await UnloadAfterRequestAsync(model, common.KeepAlive);
    }

    public async Task GenerateAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ReadAsync(context, OllamaJsonContext.Default.GenerateRequest) is not { } request
            || await ResolveAsync(context, request.Model, "generate") is not { } model
            || await ParseCommonAsync(context, request.Think, request.KeepAlive) is not { } common)
        {
            return;
        }

        var clientModel = request.Model!;
        if (GenerateTranslation.Validate(request, clientModel) is { } invalid)
        {
            await OllamaErrors.WriteAsync(context, invalid.Status, invalid.Message);
            return;
        }

        if (string.IsNullOrEmpty(request.Prompt) && request.Images is not { Count: > 0 })
        {
            await LoadOrUnloadAsync(context, clientModel, model, common.KeepAlive, OllamaAnswerShape.Generate, started);
            return;
        }

        LogIgnoredOptions("/api/generate", request.Options);
        if (!string.IsNullOrEmpty(request.Template))
        {
            OllamaLog.IgnoredField(logger, "/api/generate", "template", "LM Studio applies the model's own chat template");
        }

        if (request.Context is { Count: > 0 })
        {
            OllamaLog.IgnoredField(logger, "/api/generate", "context", "LM Studio exposes no token ids; send the conversation as /api/chat messages instead");
        }

        var settings = Settings(model, common);
        await TranslateAsync(context, model, GenerateTranslation.UpstreamPath(request),
            (deployment, body) => GenerateTranslation.WriteRequest(request, settings with { UpstreamModel = deployment.UpstreamModel, Defaults = deployment.Defaults }, body),
            clientModel, OllamaAnswerShape.Generate, request.Stream ?? true, common.Think != ThinkSetting.Off, started);
        await UnloadAfterRequestAsync(model, common.KeepAlive);
    }

    public async Task EmbedAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ReadAsync(context, OllamaJsonContext.Default.EmbedRequest) is not { } request
            || await ResolveAsync(context, request.Model, "embed") is not { } model
            || await ParseCommonAsync(context, null, request.KeepAlive) is not { } common)
        {
            return;
        }

        if (EmbedTranslation.ValidateInput(request.Input) is { } inputError)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, inputError);
            return;
        }

        TimeSpan? loadDuration = null;
        List<float[]> vectors = [];
        int? promptTokens = null;
        if (EmbedTranslation.IsEmpty(request.Input))
        {
            // Ollama answers an empty input by loading (or, with keep_alive 0, unloading) the model and returning no vectors.
            if (await LifecycleAsync(context, model, common.KeepAlive) is not { } outcome)
            {
                return;
            }

            loadDuration = outcome.LoadDuration;
        }
        else
        {
            var input = request.Input!.Value;
            var ttl = ChatTranslation.TtlSeconds(common.KeepAlive);
            if (await EmbedUpstreamAsync(context, model, (deployment, body) => EmbedTranslation.WriteRequest(deployment.UpstreamModel, input, request.Dimensions, ttl, body)) is not { } answer)
            {
                return;
            }

            vectors = EmbedTranslation.Vectors(answer, request.Dimensions, normalize: true);
            promptTokens = answer.Usage?.PromptTokens;
        }

        var total = Stopwatch.GetElapsedTime(started).Ticks * 100;
        await context.Response.WriteAsJsonAsync(
            new EmbedResponse(request.Model!, vectors, total, loadDuration is { } l ? l.Ticks * 100 : null, promptTokens),
            OllamaJsonContext.Default.EmbedResponse, contentType: null, context.RequestAborted);
        await UnloadAfterRequestAsync(model, EmbedTranslation.IsEmpty(request.Input) ? null : common.KeepAlive);
    }

    public async Task EmbeddingsAsync(HttpContext context)
    {
        if (await ReadAsync(context, OllamaJsonContext.Default.EmbeddingsRequest) is not { } request
            || await ResolveAsync(context, request.Model, "embeddings") is not { } model
            || await ParseCommonAsync(context, null, request.KeepAlive) is not { } common)
        {
            return;
        }

        float[] vector = [];
        if (!string.IsNullOrEmpty(request.Prompt))
        {
            var ttl = ChatTranslation.TtlSeconds(common.KeepAlive);
            if (await EmbedUpstreamAsync(context, model, (deployment, body) => EmbedTranslation.WriteRequest(deployment.UpstreamModel, request.Prompt, ttl, body)) is not { } answer)
            {
                return;
            }

            // The legacy endpoint returns the vector as the model made it; only /api/embed normalises.
            vector = EmbedTranslation.Vectors(answer, null, normalize: false).FirstOrDefault() ?? [];
        }

        await context.Response.WriteAsJsonAsync(new EmbeddingsResponse(vector), OllamaJsonContext.Default.EmbeddingsResponse, contentType: null, context.RequestAborted);
    }

    /// <summary>Reads the request body into a typed Ollama request; malformed JSON or a missing body is the client's error (400).</summary>
    internal static async Task<T?> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class
    {
        if (context.Request.ContentLength == 0)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "missing request body");
            return null;
        }

        try
        {
            if (await JsonSerializer.DeserializeAsync(context.Request.Body, type, context.RequestAborted) is { } request)
            {
                return request;
            }
        }
        catch (JsonException ex)
        {
            // Built from the position, not ex.Message: the AOT build strips exception texts down to resource keys.
            var at = ex.Path is { Length: > 1 } path ? $" at {path}" : string.Empty;
            var where = ex.LineNumber is { } line ? $" (line {line + 1}, position {ex.BytePositionInLine + 1})" : string.Empty;
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest,
                $"invalid request body{at}{where}: malformed JSON, or a value of the wrong type");
            return null;
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await OllamaErrors.WriteAsync(context, ex.StatusCode,
                "request body too large; raise MAX_REQUEST_BODY_MB if this request is legitimate (large images, long contexts)");
            return null;
        }

        await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "missing request body");
        return null;
    }

    /// <summary>Finds the model, writing Ollama's error (400 no model, 404 unknown, 502 upstream down, 400 wrong kind) when it can't be used.</summary>
    private async Task<CatalogModel?> ResolveAsync(HttpContext context, string? name, string operation)
    {
        if (string.IsNullOrEmpty(name))
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "model is required");
            return null;
        }

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

        var embeddingRoute = operation is "embed" or "embeddings";
        if (!embeddingRoute && model.Kind == ModelKind.Embedding)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, $"\"{name}\" does not support {operation}");
            return null;
        }

        return model;
    }

    private readonly record struct CommonFields(ThinkSetting Think, TimeSpan? KeepAlive);

    private static async Task<CommonFields?> ParseCommonAsync(HttpContext context, JsonElement? think, JsonElement? keepAlive)
    {
        if (!ChatTranslation.TryParseThink(think, out var thinkSetting, out var error)
            || !ChatTranslation.TryParseKeepAlive(keepAlive, out var keepAliveValue, out error))
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, error!);
            return null;
        }

        return new CommonFields(thinkSetting, keepAliveValue);
    }

    private static UpstreamRequestSettings Settings(CatalogModel model, CommonFields common) =>
        // Only LM Studio's v1 catalog says whether a model reasons; elsewhere the setting is sent and the upstream decides.
        new(model.UpstreamId, common.Think, model.Source != CatalogSource.LmStudioV1 || model.Thinking, ChatTranslation.TtlSeconds(common.KeepAlive));

    private void LogIgnoredOptions(string route, GenerationOptions? options)
    {
        if (ChatTranslation.IgnoredOptions(options) is { } ignored)
        {
            OllamaLog.IgnoredOptions(logger, route, ignored);
        }
    }

    /// <summary>
    /// Sends the translated request and streams the translated answer.
    /// </summary>
    /// <remarks>
    /// Step 1: send; failures before any byte went to the client get a proper status (502 unreachable, 504 timeout, the
    ///         upstream's 4xx).
    /// Step 2: for stream:true, send 200 + application/x-ndjson headers, then one line per upstream event, flushed at once.
    ///         For stream:false, aggregate silently and answer one application/json object at the end.
    /// Step 3: finish with the done line, or, when the upstream broke after the 200 went out, a final {"error":…} line.
    /// The idle timeout is linked to RequestAborted, so a client that disconnects cancels the upstream request.
    /// </remarks>
    private async Task TranslateAsync(HttpContext context, CatalogModel model, string path, Action<Deployment, PooledBufferWriter> writeBody,
        string clientModel, OllamaAnswerShape shape, bool stream, bool showThinking, long started)
    {
        var route = context.Request.Path.Value ?? path;
        var output = context.Response.BodyWriter;
        var telemetry = context.GetRequestTelemetry();
        telemetry.ClientModel = clientModel;
        using var translator = new ChunkTranslator(output, clientModel, shape, stream, showThinking, started);

        // Step 1: the router picks the deployment and retries connect failures and 5xx on the next one; nothing has
        // reached the client yet, so a retry is invisible to it.
        RoutedResponse routed;
        var sent = Stopwatch.GetTimestamp();
        translator.MarkUpstreamSent(sent);
        try
        {
            routed = await router.SendAsync(model, path, writeBody, stream, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, Door, route, failure))
            {
                await OllamaErrors.WriteAsync(context, failure);
            }

            return;
        }

        using (routed)
        {
            var response = routed.Response;
            var url = routed.Url;
            telemetry.UpstreamModel = routed.Deployment.UpstreamModel;
            telemetry.MarkUpstreamHeaders(sent);
            if (await UpstreamPipeline.CheckStatusAsync(routed.Answer) is { } status)
            {
                FailureReporting.Report(context, logger, Door, route, status);
                await OllamaErrors.WriteAsync(context, status);
                return;
            }

            // Step 2
            if (stream)
            {
                telemetry.MarkStreaming();
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/x-ndjson";
                context.Response.Headers.CacheControl = "no-cache";
                context.Response.Headers["X-Accel-Buffering"] = "no";
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                await context.Response.StartAsync(context.RequestAborted);
            }

            var failure = await UpstreamPipeline.ReadEventsAsync(routed.Answer, translator, stream ? output : null, stream ? telemetry.MarkFirstToken : null);
            if (failure is { Failure: UpstreamFailure.ClientCanceled })
            {
                FailureReporting.Report(context, logger, Door, route, failure);
                return;
            }

            if (failure is null && UpstreamPipeline.IsJson(response))
            {
                // An upstream that ignored stream:true answered one completion; it ends like a stream.
                translator.HandleEvent("[DONE]"u8);
            }

            UpstreamFailure? broken = failure?.Failure;
            var message = failure?.Message;
            if (broken is null && translator.UnreadableEvent is { } unreadable)
            {
                broken = UpstreamFailure.InvalidResponse;
                message = $"LM Studio at {url} sent an event that is not JSON ({unreadable}); the answer is incomplete. Check LM Studio's server log, or whether LMSTUDIO_URL points at an OpenAI-compatible server";
            }
            else if (broken is null && translator.UpstreamError is { } upstreamError)
            {
                broken = UpstreamFailure.Status;
                message = $"LM Studio at {url} reported an error: {upstreamError}";
            }
            else if (broken is null && !translator.Finished)
            {
                broken = UpstreamFailure.MidStream;
                message = $"LM Studio at {url} closed the stream before the answer finished (no finish_reason, no [DONE]); check LM Studio's server log, the model may have crashed or been unloaded";
            }

            var (finishReason, promptTokens, completionTokens) = translator.Outcome;
            telemetry.Record(broken, finishReason, promptTokens, completionTokens);

            // Step 3
            if (broken is { } kind)
            {
                FailureReporting.Report(context, logger, Door, route, kind, message!);
                if (stream)
                {
                    // The 200 and earlier lines are already on the wire; Ollama's in-band error line is all that is left.
                    translator.WriteError(message!);
                    await TryFlushAsync(output);
                }
                else
                {
                    await OllamaErrors.WriteAsync(context, kind == UpstreamFailure.Timeout ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway, message!);
                }

                return;
            }

            if (!stream)
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/json; charset=utf-8";
            }

            translator.WriteDone();
            await TryFlushAsync(output);
        }
    }

    /// <summary>Answers an empty chat/generate: Ollama's "load" (or, with keep_alive 0, "unload") call.</summary>
    private async Task LoadOrUnloadAsync(HttpContext context, string clientModel, CatalogModel model, TimeSpan? keepAlive, OllamaAnswerShape shape, long started)
    {
        if (await LifecycleAsync(context, model, keepAlive) is not { } outcome)
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

        await TryFlushAsync(output);
    }

    private readonly record struct LifecycleOutcome(bool Unloaded, TimeSpan? LoadDuration);

    /// <summary>Loads, or unloads for keep_alive 0; writes the error and returns null when that fails.</summary>
    private async Task<LifecycleOutcome?> LifecycleAsync(HttpContext context, CatalogModel model, TimeSpan? keepAlive)
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

            return new LifecycleOutcome(false, await lifecycle.LoadAsync(model, timeout));
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
    private async Task UnloadAfterRequestAsync(CatalogModel model, TimeSpan? keepAlive)
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

    private async Task<OpenAIEmbeddingList?> EmbedUpstreamAsync(HttpContext context, CatalogModel model, Action<Deployment, PooledBufferWriter> writeBody)
    {
        var route = context.Request.Path.Value ?? EmbedTranslation.UpstreamPath;
        RoutedResponse? routed = null;
        try
        {
            routed = await router.SendAsync(model, EmbedTranslation.UpstreamPath, writeBody, streaming: false, context.RequestAborted);
            if (await UpstreamPipeline.CheckStatusAsync(routed.Answer) is { } status)
            {
                throw status;
            }

            var (answer, failure) = await UpstreamPipeline.ReadJsonAsync(routed.Answer, OllamaJsonContext.Default.OpenAIEmbeddingList);
            return answer ?? throw failure!;
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, Door, route, failure))
            {
                await OllamaErrors.WriteAsync(context, failure);
            }
        }
        finally
        {
            routed?.Dispose();
        }

        return null;
    }

    private static async Task TryFlushAsync(System.IO.Pipelines.PipeWriter output)
    {
        try
        {
            await output.FlushAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone; there is nobody left to tell.
        }
    }
}
