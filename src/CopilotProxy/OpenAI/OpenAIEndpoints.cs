using CopilotProxy.Catalog;
using CopilotProxy.Http;
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
            group.MapGet("/v1/models", ListModels);
            group.MapPost("/v1/chat/completions", ChatCompletions);
            // Copilot Chat 0.37.x posted here without /v1 (microsoft/vscode#293271).
            group.MapPost("/chat/completions", ChatCompletions);
            return group;
        }

        // The gateway requires its key; the Ollama front door can't (see GatewayAuth).
        group.WithMetadata(GatewayKeyRequired.Instance);
        // LiteLLM serves every route with and without /v1 (protocol.md §4.5).
        foreach (var prefix in (string[])["/v1", ""])
        {
            group.MapGet($"{prefix}/models", ListModels);
            // Model ids contain '/' (qwen/qwen3-8b), so the id is a catch-all.
            group.MapGet($"{prefix}/models/{{**id}}", GetModel);
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
        CatalogSnapshot snapshot;
        try
        {
            snapshot = await catalog.GetAsync(context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OpenAIErrors.WriteAsync(context, failure);
            return;
        }

        var cards = snapshot.Models.Select(ToCard).ToList();
        await context.Response.WriteAsJsonAsync(new ModelList(cards), OpenAIJsonContext.Default.ModelList, contentType: null, context.RequestAborted);
    }

    private static async Task GetModel(HttpContext context, string id, ModelCatalog catalog)
    {
        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(id, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            await OpenAIErrors.WriteAsync(context, failure);
            return;
        }

        if (model is null)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"The model '{id}' does not exist. GET /v1/models lists the models.", code: "model_not_found", param: "model");
            return;
        }

        await context.Response.WriteAsJsonAsync(ToCard(model), OpenAIJsonContext.Default.ModelCard, contentType: null, context.RequestAborted);
    }

    private static ModelCard ToCard(CatalogModel model) => new(model.Id, model.FirstSeen.ToUnixTimeSeconds(), model.Publisher ?? "lmstudio");

    private static Task ChatCompletions(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.ChatCompletions);

    private static Task Completions(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.Completions);

    private static Task Embeddings(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.Embeddings);

    private static Task Responses(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.Responses);

    private static Task Messages(HttpContext context, OpenAIRelay relay) => relay.HandleAsync(context, OpenAIOperation.Messages);
}
