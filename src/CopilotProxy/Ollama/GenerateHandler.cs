using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CopilotProxy.Catalog;
using CopilotProxy.Http;
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

/// <summary><c>/api/generate</c>: a prompt (with optional suffix, system and images) becomes an OpenAI completion, and its answer Ollama lines.</summary>
public sealed class GenerateHandler(ModelResolution models, StreamTranslation translation, ILogger<GenerateHandler> logger)
{
    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.GenerateRequest) is not { } request
            || await models.ResolveAsync(context, request.Model, "generate") is not { } model
            || await ModelResolution.ParseCommonAsync(context, request.Think, request.KeepAlive, model) is not { } common)
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
            await models.LoadOrUnloadAsync(context, clientModel, model, common.KeepAlive, OllamaAnswerShape.Generate, started, ModelResolution.NumCtx(request.Options));
            return;
        }

        models.LogIgnoredOptions("/api/generate", request.Options);
        if (!string.IsNullOrEmpty(request.Template))
        {
            OllamaLog.IgnoredField(logger, "/api/generate", "template", "LM Studio applies the model's own chat template");
        }

        if (request.Context is { Count: > 0 })
        {
            OllamaLog.IgnoredField(logger, "/api/generate", "context", "LM Studio exposes no token ids; send the conversation as /api/chat messages instead");
        }

        var settings = ModelResolution.Settings(model, common);
        await translation.TranslateAsync(context, model, GenerateTranslation.UpstreamPath(request),
            (deployment, body) => GenerateTranslation.WriteRequest(request, settings with { UpstreamModel = deployment.UpstreamModel, Defaults = deployment.Defaults }, body),
            clientModel, OllamaAnswerShape.Generate, request.Stream ?? true, common.Think != ThinkSetting.Off, started, [], ModelResolution.NumCtx(request.Options));
        models.RecordUse(model, common.KeepAlive);
        await models.UnloadAfterRequestAsync(model, common.KeepAlive);
    }
}
