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

/// <summary><c>/api/embed</c> and the legacy <c>/api/embeddings</c>: both become OpenAI <c>/v1/embeddings</c>.</summary>
public sealed class EmbedHandler(ModelResolution models, DeploymentRouter router, ILogger<EmbedHandler> logger)
{
    private const string Door = ModelResolution.Door;

    public async Task EmbedAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.EmbedRequest) is not { } request
            || await models.ResolveAsync(context, request.Model, "embed") is not { } model
            || await ModelResolution.ParseCommonAsync(context, null, request.KeepAlive) is not { } common)
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
            if (await models.LifecycleAsync(context, model, common.KeepAlive) is not { } outcome)
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
        await ReadableJson.WriteAsync(context.Response, new EmbedResponse(request.Model!, vectors, total, loadDuration is { } l ? l.Ticks * 100 : null, promptTokens),
            OllamaResponseJsonContext.Default.EmbedResponse, context.RequestAborted);
        await models.UnloadAfterRequestAsync(model, EmbedTranslation.IsEmpty(request.Input) ? null : common.KeepAlive);
    }

    public async Task EmbeddingsAsync(HttpContext context)
    {
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.EmbeddingsRequest) is not { } request
            || await models.ResolveAsync(context, request.Model, "embeddings") is not { } model
            || await ModelResolution.ParseCommonAsync(context, null, request.KeepAlive) is not { } common)
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

        await ReadableJson.WriteAsync(context.Response, new EmbeddingsResponse(vector), OllamaResponseJsonContext.Default.EmbeddingsResponse, context.RequestAborted);
    }


    private async Task<OpenAIEmbeddingList?> EmbedUpstreamAsync(HttpContext context, CatalogModel model, Action<Deployment, PooledBufferWriter> writeBody)
    {
        var route = context.Request.Path.Value ?? EmbedTranslation.UpstreamPath;
        RoutedResponse? routed = null;
        try
        {
            routed = await router.SendAsync(model, EmbedTranslation.UpstreamPath, writeBody, streaming: false, context.RequestAborted, turn: KeyCaller.QueueTurnOf(context),
                telemetry: context.GetRequestTelemetry());
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
}
