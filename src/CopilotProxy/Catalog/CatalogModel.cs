using CopilotProxy.Configuration;
using CopilotProxy.Upstream;

namespace CopilotProxy.Catalog;

/// <summary>What kind of work a model does; decides which Ollama capabilities it advertises.</summary>
public enum ModelKind
{
    Llm,
    Embedding,
}

/// <summary>Where the model catalog learnt about the upstream's models; richer sources carry more metadata.</summary>
public enum CatalogSource
{
    LmStudioV1,
    LmStudioV0,
    OpenAI,
}

/// <summary>One model as the model catalog knows it, with the metadata Copilot needs to budget tokens and pick agent-mode models.</summary>
public sealed record CatalogModel
{
    /// <summary>The public name clients use; the upstream's own key unless config.yaml gives the model an alias.</summary>
    public required string Id { get; init; }

    /// <summary>The upstream's own key (e.g. <c>qwen/qwen3-8b</c>); this, never the alias, is what the upstream is sent.</summary>
    public string UpstreamId
    {
        get => field ?? Id;
        init;
    }

    public ModelKind Kind { get; init; } = ModelKind.Llm;
    public string? DisplayName { get; init; }
    public string? Architecture { get; init; }
    public string? Publisher { get; init; }
    public string? Format { get; init; }
    public string? Quantization { get; init; }
    public string? ParameterSize { get; init; }
    public long SizeBytes { get; init; }
    public int? MaxContextLength { get; init; }

    /// <summary>The context the upstream actually loaded; Copilot must budget against this, not the maximum (docs/protocol.md §5 #3).</summary>
    public int? LoadedContextLength { get; init; }

    public bool Loaded { get; init; }

    /// <summary>The parallel slots LM Studio reports for the loaded instance; the fair queue's cap when config.yaml sets none.</summary>
    public int? LoadedParallel { get; init; }
    public bool Tools { get; init; }
    public bool Vision { get; init; }
    public bool Thinking { get; init; }
    public DateTimeOffset FirstSeen { get; init; }

    /// <summary><c>model_info.reasoning_format</c>, when config.yaml gives it; null: REASONING_TAGS decides.</summary>
    public ReasoningFormats? ReasoningFormat { get; init; }

    /// <summary><c>model_info.max_output_tokens</c>, when config.yaml gives it.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>
    /// Where requests for this model go: one deployment per config.yaml entry of its group, in file order (balanced by
    /// the router), or the one upstream that reported it. Empty only for entries built outside the model catalog.
    /// </summary>
    public IReadOnlyList<Deployment> Deployments { get; init; } = [];

    /// <summary>The upstream of the first deployment: the one native, single-upstream calls (load, unload) go to.</summary>
    public UpstreamClient? Upstream => Deployments.Count > 0 ? Deployments[0].Upstream : null;

    /// <summary>Which API the first deployment's upstream was discovered through; null when its model was not (yet) discovered.</summary>
    public CatalogSource? Source { get; init; }

    /// <summary>
    /// The smallest context the proxy loads this model with: <c>model_info.min_context_length</c>, else MIN_CONTEXT_LENGTH
    /// (the model catalog fills it in); 0 turns it off.
    /// </summary>
    public int? MinContextLength { get; init; }

    /// <summary>
    /// <c>model_info.tool_call_format</c>: which text form of tool calls the repair looks for in this model's answers
    /// (<c>auto</c>, one format's name, or <c>off</c>); null means <c>auto</c>.
    /// </summary>
    public string? ToolCallFormat { get; init; }

    /// <summary>Whether the proxy can choose the context this model is loaded with: an LM Studio ≥0.4 chat model (its /api/v1/models/load takes one).</summary>
    public bool ProxyLoads => Source == CatalogSource.LmStudioV1 && Kind == ModelKind.Llm;

    /// <summary>The context the proxy makes sure the model has before a request: the floor, capped at the model's maximum; null when the proxy leaves loading to the upstream.</summary>
    public int? TargetContextLength => ProxyLoads && MinContextLength is > 0 and var floor ? Math.Min(floor, MaxContextLength ?? floor) : null;

    /// <summary>
    /// The context a client should budget for: the one the model has, or will have once the proxy loads it (never the
    /// maximum of a model that will be loaded smaller). Without a floor, the loaded context, else the maximum.
    /// </summary>
    public int? ContextLength => TargetContextLength is { } target ? Math.Max(LoadedContextLength ?? 0, target) : LoadedContextLength ?? MaxContextLength;

    /// <summary>The name Ollama clients see: Ollama names always carry a tag, so an untagged key gets <c>:latest</c>.</summary>
    public string OllamaName => Id.Contains(':', StringComparison.Ordinal) ? Id : Id + ":latest";
}

/// <summary>One place a model's requests can go: an upstream, the model id it is sent, and the request defaults of its entry.</summary>
public sealed record Deployment(UpstreamClient Upstream, string UpstreamModel, ModelDefaults Defaults)
{
    /// <summary>Identifies the deployment across refreshes, for cooldown and health reports.</summary>
    public string Key => $"{Upstream.Target} {UpstreamModel}";
}
