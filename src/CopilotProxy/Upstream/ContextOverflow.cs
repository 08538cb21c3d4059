using System.Globalization;
using System.Text.RegularExpressions;

namespace CopilotProxy.Upstream;

/// <summary>
/// Recognises an upstream's refusal of a prompt that does not fit the loaded context, and turns it into a message that
/// names the model, the loaded context, the prompt size when known, and the fix.
/// </summary>
/// <remarks>
/// llama.cpp's server answers 400 <c>{"error":{"type":"exceed_context_size_error","message":"request (N tokens) exceeds the
/// available context size (M tokens), try increasing it","n_prompt_tokens":N,"n_ctx":M}}</c> (docs/protocol.md §8.6). LM Studio
/// says "Trying to keep the first N tokens when context the overflows. However, the model is loaded with context length of
/// only M tokens, which is not enough…", and its newer engines "Cannot truncate prompt with n_keep (N) &gt;= n_ctx (M)".
/// </remarks>
public static partial class ContextOverflow
{
    /// <summary>OpenAI's own error code for this case; SDKs and clients recognise it.</summary>
    public const string Code = "context_length_exceeded";

    /// <summary>The explained failure when <paramref name="failure"/> is a context overflow; null otherwise.</summary>
    /// <param name="model">The model name the client used.</param>
    /// <param name="loadedContext">The context the proxy knows the model has, when the upstream's message does not say.</param>
    /// <param name="fix">What the client can change: raise MIN_CONTEXT_LENGTH, or num_ctx for Ollama clients, and reload the VS Code window.</param>
    public static UpstreamException? Explain(UpstreamException failure, string model, int? loadedContext, string fix)
    {
        ArgumentNullException.ThrowIfNull(failure);
        if (failure.Failure != UpstreamFailure.Status || failure.UpstreamStatus is not (400 or 413 or 500) || failure.UpstreamMessage is not { } text)
        {
            return null;
        }

        int? prompt = null, context = null;
        if (LlamaCpp().Match(text) is { Success: true } llama)
        {
            (prompt, context) = (Number(llama.Groups[1]), Number(llama.Groups[2]));
        }
        else if (LmStudioKeep().Match(text) is { Success: true } keep)
        {
            (prompt, context) = (Number(keep.Groups[1]), Number(keep.Groups[2]));
        }
        else if (NKeep().Match(text) is { Success: true } nKeep)
        {
            (prompt, context) = (Number(nKeep.Groups[1]), Number(nKeep.Groups[2]));
        }
        else if (!string.Equals(failure.UpstreamCode, "exceed_context_size_error", StringComparison.Ordinal)
            && !text.Contains("context length", StringComparison.OrdinalIgnoreCase) && !text.Contains("context size", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        context ??= loadedContext;
        var size = prompt is { } p ? string.Create(CultureInfo.InvariantCulture, $"The prompt has {p} tokens; ") : "The prompt is too long: ";
        var has = context is { } c ? string.Create(CultureInfo.InvariantCulture, $"{model} is loaded with a context of only {c} tokens") : $"it does not fit the context {model} is loaded with";
        return new UpstreamException(UpstreamFailure.Status,
            $"{size}{has}. Fix: {fix}. (The upstream at {failure.Url} said: {text})",
            failure.Url, failure.UpstreamStatus, failure)
        {
            UpstreamMessage = text,
            UpstreamCode = Code,
        };
    }

    private static int? Number(Group group) => int.TryParse(group.ValueSpan, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    [GeneratedRegex(@"request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)", RegexOptions.CultureInvariant)]
    private static partial Regex LlamaCpp();

    [GeneratedRegex(@"keep the first (\d+) tokens.*?context length of only (\d+) tokens", RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex LmStudioKeep();

    [GeneratedRegex(@"n_keep \((\d+)\) >= n_ctx \((\d+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex NKeep();
}
