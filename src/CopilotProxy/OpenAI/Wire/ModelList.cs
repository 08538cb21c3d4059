using System.Text.Json.Serialization;

namespace CopilotProxy.OpenAI.Wire;

/// <summary><c>GET /v1/models</c>.</summary>
public sealed record ModelList(IReadOnlyList<ModelCard> Data)
{
    [JsonPropertyOrder(-1)]
    [JsonPropertyName("object")]
    public string ObjectType => "list";
}

/// <summary>
/// One model of <c>/v1/models</c>. The gateway adds LiteLLM's limits and the capabilities (LiteLLM PR #30272), so clients
/// that read them budget tokens right; the Ollama front door leaves them out, as real Ollama does.
/// </summary>
public sealed record ModelCard(string Id, long Created, string OwnedBy)
{
    [JsonPropertyOrder(1)]
    [JsonPropertyName("object")]
    public string ObjectType => "model";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ContextLength { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxInputTokens { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxOutputTokens { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Capabilities { get; init; }
}

/// <summary>LiteLLM's <c>GET /model/info</c>: one entry per deployment.</summary>
public sealed record ModelInfoList(IReadOnlyList<DeploymentInfo> Data);

public sealed record DeploymentInfo(string ModelName, DeploymentParams LitellmParams, DeploymentModelInfo ModelInfo);

/// <summary>What LiteLLM shows of a deployment's parameters; keys are never shown.</summary>
public sealed record DeploymentParams(string Model, string ApiBase);

public sealed record DeploymentModelInfo(
    string Id,
    string Mode,
    int ContextLength,
    int MaxInputTokens,
    int MaxOutputTokens,
    int MaxTokens,
    bool SupportsFunctionCalling,
    bool SupportsVision,
    bool SupportsReasoning,
    IReadOnlyList<string> Capabilities);
