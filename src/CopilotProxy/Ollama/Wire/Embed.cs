using System.Text.Json;

namespace CopilotProxy.Ollama.Wire;

/// <summary><c>POST /api/embed</c> (docs/protocol.md §2.7).</summary>
public sealed class EmbedRequest
{
    public string? Model { get; set; }

    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Input { get; set; }

    /// <summary>Accepted and ignored: LM Studio applies its own context limit.</summary>
    public bool? Truncate { get; set; }

    public int? Dimensions { get; set; }
    public JsonElement? KeepAlive { get; set; }
    public GenerationOptions? Options { get; set; }
}

public sealed record EmbedResponse(string Model, IReadOnlyList<float[]> Embeddings, long TotalDuration, long? LoadDuration, int? PromptEvalCount);

/// <summary>Legacy <c>POST /api/embeddings</c>.</summary>
public sealed class EmbeddingsRequest
{
    public string? Model { get; set; }
    public string? Prompt { get; set; }
    public JsonElement? KeepAlive { get; set; }
    public GenerationOptions? Options { get; set; }
}

public sealed record EmbeddingsResponse(float[] Embedding);

/// <summary>The upstream's OpenAI <c>/v1/embeddings</c> answer, read only as far as the Ollama answer needs.</summary>
public sealed class OpenAIEmbeddingList
{
    public List<OpenAIEmbedding>? Data { get; set; }
    public OpenAIEmbeddingUsage? Usage { get; set; }
}

public sealed class OpenAIEmbedding
{
    public int Index { get; set; }
    public float[]? Embedding { get; set; }
}

public sealed class OpenAIEmbeddingUsage
{
    public int? PromptTokens { get; set; }
}
