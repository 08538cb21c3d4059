using CopilotProxy.Catalog;
using CopilotProxy.Http;
using CopilotProxy.Keys;
using CopilotProxy.OpenAI.Wire;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CopilotProxy.OpenAI;

/// <summary>The OpenAI routes: the whole gateway on LITELLM_PORT, and the subset Copilot uses on the Ollama front door.</summary>
public static class OpenAIEndpoints
{
    public static RouteGroupBuilder MapOpenAIApi(this IEndpointRouteBuilder app, FrontDoor door)
    {
        var group = app.MapGroup(string.Empty).WithMetadata(new FrontDoorMetadata(door));
        if (door == FrontDoor.Ollama)
        {
            // Real Ollama's OpenAI compatibility routes (docs/protocol.md §2.2), so tools pointed at port 11434 find them all.
            group.MapGet("/v1/models", ListModels);
            group.MapGet("/v1/models/{**id}", GetOllamaModel);
            group.MapPost("/v1/chat/completions", ChatCompletions);
            // Copilot Chat 0.37.x posted here without /v1 (microsoft/vscode#293271).
            group.MapPost("/chat/completions", ChatCompletions);
            group.MapPost("/v1/completions", Completions);
            group.MapPost("/v1/embeddings", Embeddings);
            group.MapPost("/v1/responses", Responses);
            group.MapPost("/v1/messages", Messages);
            return group;
        }

        // The gateway requires its key; the Ollama front door can't (see GatewayAuth).
        group.WithMetadata(GatewayKeyRequired.Instance);
        // LiteLLM serves every route with and without /v1 (docs/protocol.md §4.5).
        foreach (var prefix in (string[])["/v1", ""])
        {
            group.MapGet($"{prefix}/models", ListGatewayModels);
            group.MapGet($"{prefix}/model/info", ModelInfo);
            // Model ids contain '/' (qwen/qwen3-8b), so the id is a catch-all.
            group.MapGet($"{prefix}/models/{{**id}}", GetGatewayModel);
            group.MapPost($"{prefix}/chat/completions", ChatCompletions);
            group.MapPost($"{prefix}/completions", Completions);
            group.MapPost($"{prefix}/embeddings", Embeddings);
            group.MapPost($"{prefix}/responses", Responses);
            group.MapPost($"{prefix}/messages", Messages);
        }

        return group;
    }

    private static async Task ListModels(HttpContext context, ModelCatalog catalog)
    {
        if (await SnapshotAsync(context, catalog) is { } snapshot)
        {
            var cards = snapshot.Models.Where(m => context.KeyAllows(m.Id)).Select(ToCard).ToList();
            await ReadableJson.WriteAsync(context.Response, new ModelList(cards), OpenAIJsonContext.Default.ModelList, context.RequestAborted);
        }
    }

    private static async Task ListGatewayModels(HttpContext context, ModelCatalog catalog)
    {
        if (await SnapshotAsync(context, catalog) is { } snapshot)
        {
            var cards = snapshot.Models.Where(m => context.KeyAllows(m.Id)).Select(ToGatewayCard).ToList();
            await ReadableJson.WriteAsync(context.Response, new ModelList(cards), OpenAIJsonContext.Default.ModelList, context.RequestAborted);
        }
    }

    private static async Task GetGatewayModel(HttpContext context, string id, ModelCatalog catalog)
    {
        if (await FindAsync(context, id, catalog) is { } model)
        {
            await ReadableJson.WriteAsync(context.Response, ToGatewayCard(model), OpenAIJsonContext.Default.ModelCard, context.RequestAborted);
        }
    }

    /// <summary>Ollama echoes the name it was asked for, tag included, and owns every local model to "library" (openai.go ToModel).</summary>
    private static async Task GetOllamaModel(HttpContext context, string id, ModelCatalog catalog)
    {
        if (await FindAsync(context, id, catalog) is { } model)
        {
            var card = new ModelCard(id, model.FirstSeen.ToUnixTimeSeconds(), "library");
            await ReadableJson.WriteAsync(context.Response, card, OpenAIJsonContext.Default.ModelCard, context.RequestAborted);
        }
    }

    /// <summary>LiteLLM's <c>/model/info</c>: every deployment of every model, with the limits and capabilities clients budget with.</summary>
    private static async Task ModelInfo(HttpContext context, ModelCatalog catalog)
    {
        if (await SnapshotAsync(context, catalog) is not { } snapshot)
        {
            return;
        }

        var entries = new List<DeploymentInfo>();
        // A virtual key sees only its own models, as in LiteLLM.
        foreach (var model in snapshot.Models.Where(m => context.KeyAllows(m.Id)))
        {
            var budget = TokenBudget.For(model);
            var info = new DeploymentModelInfo(
                model.Id, model.Kind == ModelKind.Embedding ? "embedding" : "chat", budget.ContextLength, budget.MaxInputTokens, budget.MaxOutputTokens,
                budget.MaxOutputTokens, model.Tools, model.Vision, model.Thinking, ModelCapabilities.Of(model));
            foreach (var deployment in model.Deployments)
            {
                entries.Add(new DeploymentInfo(model.Id, new DeploymentParams("openai/" + deployment.UpstreamModel, deployment.Upstream.BaseUrl.ToString()), info));
            }
        }

        await ReadableJson.WriteAsync(context.Response, new ModelInfoList(entries), OpenAIJsonContext.Default.ModelInfoList, context.RequestAborted);
    }

    private static async Task<CatalogSnapshot?> SnapshotAsync(HttpContext context, ModelCatalog catalog)
    {
        try
        {
            return await catalog.GetAsync(context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OpenAIErrors.WriteAsync(context, failure);
            return null;
        }
    }

    private static async Task<CatalogModel?> FindAsync(HttpContext context, string id, ModelCatalog catalog)
    {
        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(id, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OpenAIErrors.WriteAsync(context, failure);
            return null;
        }

        if (model is null || !context.KeyAllows(model.Id))
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"The model '{id}' does not exist. GET /v1/models lists the models.", code: "model_not_found", param: "model");
        }

        return model is not null && context.KeyAllows(model.Id) ? model : null;
    }

    private static ModelCard ToCard(CatalogModel model) => new(model.Id, model.FirstSeen.ToUnixTimeSeconds(), model.Publisher ?? "lmstudio");

    private static ModelCard ToGatewayCard(CatalogModel model)
    {
        var budget = TokenBudget.For(model);
        return ToCard(model) with
        {
            ContextLength = budget.ContextLength,
            MaxInputTokens = budget.MaxInputTokens,
            MaxOutputTokens = budget.MaxOutputTokens,
            Capabilities = ModelCapabilities.Of(model),
        };
    }

    private static Task ChatCompletions(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.ChatCompletions);

    private static Task Completions(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.Completions);

    private static Task Embeddings(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.Embeddings);

    private static Task Responses(HttpContext context, EventApiRelay relay) => relay.HandleAsync(context, EventApi.Responses);

    private static Task Messages(HttpContext context, EventApiRelay relay) => relay.HandleAsync(context, EventApi.Messages);
}
