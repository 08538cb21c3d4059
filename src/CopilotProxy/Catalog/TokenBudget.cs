namespace CopilotProxy.Catalog;

/// <summary>
/// How a model's context splits into prompt and answer, computed once here so every place that advertises limits
/// (/api/show, /v1/models, /model/info, <c>copilot-proxy clients</c>, doctor, the dashboard) says the same numbers.
/// </summary>
/// <remarks>
/// The split is Copilot's own (docs/protocol.md §8.1), output 4096 tokens and input the rest, except that the answer never
/// gets more than half the context: Copilot's own "half below 4096" rule leaves a 4096-token context 0 tokens of prompt
/// (and a 5000-token one 904), and a client told that refuses or truncates every prompt. Copilot adds input and output
/// together, so their sum is exactly the context.
/// </remarks>
public readonly record struct TokenBudget(int ContextLength, int MaxInputTokens, int MaxOutputTokens)
{
    /// <summary>The context Copilot and the Ollama extension assume when a server reports none; used for the same reason here.</summary>
    public const int FallbackContextLength = 32768;

    public const int DefaultMaxOutputTokens = 4096;

    /// <summary>The budget of a model catalog entry: its (effective) context, and config.yaml's max_output_tokens when given.</summary>
    public static TokenBudget For(CatalogModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Of(model.ContextLength ?? FallbackContextLength, model.MaxOutputTokens);
    }

    /// <summary>The split of <paramref name="contextLength"/>; a configured output limit wins up to half the context, so the prompt always gets at least as much as the answer.</summary>
    public static TokenBudget Of(int contextLength, int? maxOutputTokens = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 2);
        var wanted = maxOutputTokens is > 0 and var configured ? configured : DefaultMaxOutputTokens;
        var output = Math.Min(wanted, contextLength / 2);
        return new TokenBudget(contextLength, contextLength - output, output);
    }
}

/// <summary>The capability names a model catalog entry advertises, in Ollama's vocabulary; never null, never a null entry.</summary>
public static class ModelCapabilities
{
    public static IReadOnlyList<string> Of(CatalogModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Kind == ModelKind.Embedding)
        {
            return ["embedding"];
        }

        var capabilities = new List<string>(4) { "completion" };
        if (model.Tools)
        {
            capabilities.Add("tools");
        }

        if (model.Vision)
        {
            capabilities.Add("vision");
        }

        if (model.Thinking)
        {
            capabilities.Add("thinking");
        }

        return capabilities;
    }
}
