using System.Globalization;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Upstream;

namespace CopilotProxy.Diagnostics;

/// <summary>The upstream checks shared by the start-up pre-flight and <c>copilot-proxy doctor</c>.</summary>
public static class UpstreamChecks
{
    /// <summary>Copilot reserves 4096 tokens for the answer; below 8192 its system prompt and tool schemas leave almost no room for the chat.</summary>
    public const int MinContextLength = 8192;

    /// <summary>Models listed one per line in the summary; beyond this a count stands for the rest.</summary>
    private const int MaxListedModels = 12;

    public static IReadOnlyList<Check> Evaluate(ProxySettings settings, CatalogSnapshot? snapshot, UpstreamException? failure)
    {
        var checks = new List<Check>();
        if (failure is not null || snapshot is null)
        {
            checks.Add(Check.Fail(
                $"LM Studio not reachable at {settings.LmStudioUrl}: {failure?.Message ?? "no answer yet"}",
                failure?.Failure == UpstreamFailure.Status && failure.UpstreamStatus is 401 or 403
                    ? "Set LMSTUDIO_API_KEY to the API token from LM Studio's server settings."
                    : $"Start LM Studio's local server (Developer tab > Start Server, or `lms server start`) and check LMSTUDIO_URL (now {settings.LmStudioUrl}). The proxy keeps retrying and answers not-ready until then."));
            return checks;
        }

        var chat = snapshot.Models.Where(m => m.Kind == ModelKind.Llm).ToList();
        var loaded = snapshot.Models.Count(m => m.Loaded);
        checks.Add(Check.Pass(string.Create(CultureInfo.InvariantCulture,
            $"LM Studio reachable at {settings.LmStudioUrl} ({SourceName(snapshot.Source)}): {snapshot.Models.Count} model(s), {loaded} loaded")));
        foreach (var model in snapshot.Models.Take(MaxListedModels))
        {
            checks.Add(Check.Info("  " + Describe(model)));
        }

        if (snapshot.Models.Count > MaxListedModels)
        {
            checks.Add(Check.Info($"  … and {snapshot.Models.Count - MaxListedModels} more"));
        }

        if (chat.Count == 0)
        {
            checks.Add(Check.Fail("No chat model in LM Studio (embedding models can't chat)",
                "Download a chat model in LM Studio (Discover tab, or `lms get qwen/qwen3-8b`)."));
            return checks;
        }

        var tools = chat.Where(m => m.Tools).ToList();
        if (tools.Count > 0)
        {
            checks.Add(Check.Pass($"Tool-capable model(s) for agent mode: {string.Join(", ", tools.Select(m => m.Id))}"));
        }
        else
        {
            checks.Add(Check.Fail("No tool-capable model: Copilot shows models without \"tools\" in Ask and Edit mode only, never in Agent mode",
                "Download a model trained for tool use (LM Studio marks them with a hammer icon), e.g. `lms get qwen/qwen3-8b`."));
        }

        checks.AddRange(ContextChecks(tools.Count > 0 ? tools : chat));
        return checks;
    }

    /// <summary>The exact VS Code setting that points Copilot at this proxy.</summary>
    public static string VsCodeSetting(ProxySettings settings)
    {
        var url = $"http://localhost:{settings.OllamaPort}";
        return $"VS Code: Copilot Chat > Manage Models > Ollama, URL {url} (older Copilot versions: \"github.copilot.chat.byok.ollamaEndpoint\": \"{url}\")";
    }

    private static IEnumerable<Check> ContextChecks(List<CatalogModel> models)
    {
        foreach (var model in models)
        {
            // A loaded model is judged by the context it was loaded with: that is what Copilot gets. An unloaded one
            // by its maximum, since LM Studio can still load it with enough.
            if (model.ContextLength is not { } context)
            {
                continue;
            }

            if (context >= MinContextLength)
            {
                continue;
            }

            var which = model.Loaded ? "is loaded with" : "supports at most";
            // The split every client is told (TokenBudget), so doctor's numbers are the ones /api/show, /v1/models and `clients` give.
            var budget = context >= 2 ? TokenBudget.Of(context, model.MaxOutputTokens) : new TokenBudget(context, 0, context);
            yield return Check.Fail(
                string.Create(CultureInfo.InvariantCulture,
                    $"{model.Id} {which} a {context}-token context, below {MinContextLength}: Copilot reserves {budget.MaxOutputTokens} tokens for the answer, leaving {budget.MaxInputTokens} for its system prompt, tools and your chat"),
                model.Loaded
                    ? $"Reload it with a larger context: LM Studio > Developer > {model.Id} > Context Length ≥ {MinContextLength}, or `lms load {model.Id} --context-length 16384`."
                    : "Pick a model with a larger context window for Copilot.");
        }

        var sized = models.Where(m => m.ContextLength is not null).ToList();
        if (sized.Count > 0 && sized.Any(m => m.ContextLength >= MinContextLength))
        {
            yield return Check.Pass($"Context length ≥ {MinContextLength} (Copilot reserves {TokenBudget.DefaultMaxOutputTokens} output tokens): {string.Join(", ", sized.Where(m => m.ContextLength >= MinContextLength).Select(m => m.Id))}");
        }
    }

    private static string Describe(CatalogModel model)
    {
        var traits = new List<string>(4) { model.Loaded ? "loaded" : "not loaded" };
        if (model.Kind == ModelKind.Embedding)
        {
            traits.Add("embedding");
        }
        else
        {
            traits.Add(model.Tools ? "tools" : "no tools");
        }

        if (model.ContextLength is { } context)
        {
            traits.Add(string.Create(CultureInfo.InvariantCulture, $"context {context}"));
        }

        return $"{model.Id}: {string.Join(", ", traits)}";
    }

    private static string SourceName(CatalogSource source) => source switch
    {
        CatalogSource.LmStudioV1 => "LM Studio API v1",
        CatalogSource.LmStudioV0 => "LM Studio API v0",
        _ => "OpenAI-compatible /v1/models",
    };
}
