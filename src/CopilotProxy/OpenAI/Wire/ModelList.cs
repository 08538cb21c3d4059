using System.Text.Json.Serialization;

namespace CopilotProxy.OpenAI.Wire;

/// <summary><c>GET /v1/models</c>.</summary>
public sealed record ModelList(IReadOnlyList<ModelCard> Data)
{
    [JsonPropertyOrder(-1)]
    [JsonPropertyName("object")]
    public string ObjectType => "list";
}

public sealed record ModelCard(string Id, long Created, string OwnedBy)
{
    [JsonPropertyOrder(1)]
    [JsonPropertyName("object")]
    public string ObjectType => "model";
}
