using System.Globalization;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Upstream;

namespace CopilotProxy.Diagnostics;

/// <summary>The upstream checks shared by the start-up pre-flight and <c>copilot-proxy doctor</c>.</summary>
public static class UpstreamChecks
{
    /// <summary>Copilot reserves 4096 tokens for the answer; below 8192 its system prompt and tool schemas leave almost no room for the chat.</summary>
    public const int MinUsableContext = 8192;


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

        checks.AddRange(ContextChecks(settings, tools.Count > 0 ? tools : chat));
        return checks;
    }

    /// <summary>The exact VS Code setting that points Copilot at this proxy.</summary>
    public static string VsCodeSetting(ProxySettings settings)
    {
        var url = $"http://localhost:{settings.OllamaPort}";
        return $"VS Code: Copilot Chat > Manage Models > Ollama, URL {url} (older Copilot versions: \"github.copilot.chat.byok.ollamaEndpoint\": \"{url}\")";
    }

    /// <summary>Copilot's budget for a context (docs/protocol.md §1): 4096 output tokens, or half the context below 4096; input gets the rest.</summary>
    /// <remarks>
    /// Copilot's Ollama provider computes this itself from /api/show's context length, so doctor judges with Copilot's own
    /// rule, not <see cref="TokenBudget"/>: at exactly 4096 tokens Copilot really is left with no prompt, whatever the
    /// proxy advertises to clients that take its numbers (/v1/models, Custom Endpoint).
    /// </remarks>
    public static (int Input, int Output) CopilotBudget(int context)
    {
        context = Math.Max(context, 2);
        var output = context < TokenBudget.DefaultMaxOutputTokens ? context / 2 : TokenBudget.DefaultMaxOutputTokens;
        return (context - output, output);
    }

    /// <summary>One line per model: the context it has against MIN_CONTEXT_LENGTH, what the proxy will do about it, and Copilot's budget.</summary>
    private static IEnumerable<Check> ContextChecks(ProxySettings settings, List<CatalogModel> models)
    {
        foreach (var model in models)
        {
            var floor = model.MinContextLength ?? settings.MinContextLength;
            var loaded = model.Loaded ? model.LoadedContextLength : null;
            var has = loaded is { } l ? string.Create(CultureInfo.InvariantCulture, $"loaded with a {l}-token context") : "not loaded";
            var against = floor > 0 ? string.Create(CultureInfo.InvariantCulture, $", MIN_CONTEXT_LENGTH {floor}") : string.Empty;
            if (model.TargetContextLength is { } target)
            {
                var action = loaded is { } current && current >= target ? "nothing to do"
                    : loaded is not null ? string.Create(CultureInfo.InvariantCulture, $"the proxy reloads it with {target} tokens before its first request")
                    : string.Create(CultureInfo.InvariantCulture, $"the proxy loads it with {target} tokens on its first request");
                var context = Math.Max(loaded ?? 0, target);
                var line = string.Create(CultureInfo.InvariantCulture, $"{model.Id}: {has}{against}: {action}; {Budget(context)}");
                yield return context >= MinUsableContext
                    ? Check.Pass(line)
                    : Check.Fail(line + string.Create(CultureInfo.InvariantCulture, $", below {MinUsableContext}, too little for Copilot"),
                        string.Create(CultureInfo.InvariantCulture, $"{model.Id} supports at most {model.MaxContextLength} tokens: pick a model with a larger context window for Copilot."));
                continue;
            }

            // The proxy leaves loading to the upstream: a loaded model is judged by the context it has, an unloaded one by
            // its maximum, since the upstream may still load it with enough.
            if (model.ContextLength is not { } known)
            {
                continue;
            }

            var lowForFloor = floor > 0 && loaded is { } have && have < floor;
            var note = model.Source switch
            {
                CatalogSource.LmStudioV1 => "the proxy leaves loading to LM Studio (MIN_CONTEXT_LENGTH=0)",
                CatalogSource.LmStudioV0 => "LM Studio before 0.4 can't be told a context by the proxy",
                _ => "the upstream sets its context at start-up; the proxy can't change it",
            };
            var summary = string.Create(CultureInfo.InvariantCulture, $"{model.Id}: {(loaded is null ? $"not loaded, supports at most {known} tokens" : has)}{against}: {note}; {Budget(known)}");
            if (known >= MinUsableContext && !lowForFloor)
            {
                yield return Check.Pass(summary);
            }
            else
            {
                yield return Check.Fail(summary + (known < MinUsableContext ? string.Create(CultureInfo.InvariantCulture, $", below {MinUsableContext}, too little for Copilot") : string.Empty),
                    Fix(model, Math.Max(floor, 32768)));
            }
        }
    }

    private static string Budget(int context)
    {
        var (input, output) = CopilotBudget(context);
        return string.Create(CultureInfo.InvariantCulture, $"Copilot reserves {output} tokens for the answer, leaving {input} for its system prompt, tools and your chat");
    }

    /// <summary>How to give a model more context on the upstream the proxy can't load it through.</summary>
    private static string Fix(CatalogModel model, int wanted) => model.Source switch
    {
        CatalogSource.LmStudioV1 => string.Create(CultureInfo.InvariantCulture,
            $"Set MIN_CONTEXT_LENGTH={wanted} and the proxy reloads it, or reload it yourself: `lms load {model.UpstreamId} --context-length {wanted}` (LM Studio > Developer > Context Length), then reload the VS Code window."),
        CatalogSource.LmStudioV0 => string.Create(CultureInfo.InvariantCulture,
            $"Reload it with a larger context: `lms load {model.UpstreamId} --context-length {wanted}` (LM Studio > Developer > Context Length), then reload the VS Code window; LM Studio 0.4 lets the proxy do this itself."),
        _ => string.Create(CultureInfo.InvariantCulture,
            $"Restart the upstream with a larger context. llama.cpp's llama-server: `-c` is the total and each of the `-np` slots gets -c/-np, so `-c {wanted * 2} -np 2` gives {wanted} per request; then reload the VS Code window."),
    };

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

        // What LM Studio reports; the context checks say what the proxy will make of it.
        if (((model.Loaded ? model.LoadedContextLength : null) ?? model.MaxContextLength) is { } context)
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
