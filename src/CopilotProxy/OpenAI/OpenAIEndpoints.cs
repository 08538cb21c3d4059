using CopilotProxy.Catalog;
using CopilotProxy.Hosting;
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

        group.MapGet("/v1/models", ListModels);
        group.MapPost("/v1/chat/completions", ChatCompletions);
        // Copilot Chat 0.37.x posted here without /v1 (microsoft/vscode#293271); LiteLLM serves both spellings too.
        group.MapPost("/chat/completions", ChatCompletions);
        if (door == FrontDoor.OpenAI)
        {
            group.MapGet("/models", ListModels);
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

        var cards = snapshot.Models.Select(m => new ModelCard(m.Id, m.FirstSeen.ToUnixTimeSeconds(), m.Publisher ?? "lmstudio")).ToList();
        await context.Response.WriteAsJsonAsync(new ModelList(cards), OpenAIJsonContext.Default.ModelList, contentType: null, context.RequestAborted);
    }

    private static Task ChatCompletions(HttpContext context, ChatCompletionsRelay relay) => relay.HandleAsync(context);
}
