using System.Globalization;
using CopilotProxy.Catalog;

namespace CopilotProxy.Loading;

/// <summary>The fix for a prompt that does not fit a model's context, for the kind of upstream that serves it.</summary>
public static class ContextAdvice
{
    /// <param name="model">The model the prompt was for.</param>
    /// <param name="ollamaClient">The request came through the native Ollama API, where <c>options.num_ctx</c> asks for a context per request.</param>
    public static string Fix(CatalogModel model, bool ollamaClient)
    {
        ArgumentNullException.ThrowIfNull(model);
        var reload = "then reload the VS Code window so Copilot reads the new context from /api/show";
        if (!model.ProxyLoads)
        {
            return model.Source == CatalogSource.OpenAI
                ? $"restart the upstream with a larger context (llama.cpp's llama-server: raise -c; each of the -np slots gets -c/-np), {reload}"
                : $"reload the model with a larger context in LM Studio (`lms load {model.UpstreamId} --context-length 65536`), {reload}";
        }

        var numCtx = ollamaClient ? " or send a larger options.num_ctx," : string.Empty;
        var max = model.MaxContextLength is { } m ? string.Create(CultureInfo.InvariantCulture, $" (its maximum is {m})") : string.Empty;
        return model.MinContextLength is > 0 and var floor
            ? string.Create(CultureInfo.InvariantCulture, $"raise MIN_CONTEXT_LENGTH (now {floor}) or this model's model_info.min_context_length{max},{numCtx} {reload}")
            : $"set MIN_CONTEXT_LENGTH (e.g. 32768) so the proxy loads the model with enough context{max},{numCtx} {reload}";
    }
}
