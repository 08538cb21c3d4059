using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Loading;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;
using CopilotProxy.Routing;
using CopilotProxy.Telemetry;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Ollama;

/// <summary><c>/api/chat</c>: an Ollama chat request becomes an OpenAI chat completion, and its answer Ollama lines.</summary>
public sealed class ChatHandler(ModelResolution models, StreamTranslation translation, ProxySettings proxySettings)
{
    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ModelResolution.ReadAsync(context, OllamaJsonContext.Default.ChatRequest) is not { } request
            || await models.ResolveAsync(context, request.Model, "chat") is not { } model
            || await ModelResolution.ParseCommonAsync(context, request.Think, request.KeepAlive, model) is not { } common)
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
            await models.LoadOrUnloadAsync(context, clientModel, model, common.KeepAlive, OllamaAnswerShape.Chat, started, ModelResolution.NumCtx(request.Options));
            return;
        }

        if (request.Tools is { Count: > 0 } && !model.Tools)
        {
            await OllamaErrors.WriteAsync(context, StatusCodes.Status400BadRequest, $"\"{clientModel}\" does not support tools");
            return;
        }

        models.LogIgnoredOptions("/api/chat", request.Options);
        var settings = ModelResolution.Settings(model, common);
        await translation.TranslateAsync(context, model, GenerateTranslation.ChatPath,
            (deployment, body) => ChatTranslation.WriteRequest(request, settings with { UpstreamModel = deployment.UpstreamModel, Defaults = deployment.Defaults }, body),
            clientModel, OllamaAnswerShape.Chat, request.Stream ?? true, common.Think != ThinkSetting.Off, started,
            proxySettings.ToolCallRepair ? RepairedToolCalls.OfferedTools(request.Tools) : [], ModelResolution.NumCtx(request.Options));
        models.RecordUse(model, common.KeepAlive);
        await models.UnloadAfterRequestAsync(model, common.KeepAlive);
    }
}
