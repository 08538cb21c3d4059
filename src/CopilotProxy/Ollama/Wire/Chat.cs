using System.Text.Json;
using System.Text.Json.Serialization;

namespace CopilotProxy.Ollama.Wire;

/// <summary><c>POST /api/chat</c> (docs/protocol.md §2.4). Fields that take several JSON shapes stay <see cref="JsonElement"/> and are read by the translation.</summary>
public sealed class ChatRequest
{
    public string? Model { get; set; }
    public List<ChatMessage>? Messages { get; set; }

    /// <summary>Ollama's tool definitions already use OpenAI's shape, so they are relayed untouched.</summary>
    public List<JsonElement>? Tools { get; set; }

    /// <summary><c>"json"</c> or a JSON schema object.</summary>
    public JsonElement? Format { get; set; }

    public GenerationOptions? Options { get; set; }
    public bool? Stream { get; set; }

    /// <summary>A Go duration string (<c>"5m"</c>) or a number of seconds; 0 unloads, negative keeps the model loaded.</summary>
    public JsonElement? KeepAlive { get; set; }

    /// <summary><c>true</c>/<c>false</c> or a level: <c>"low"</c>, <c>"medium"</c>, <c>"high"</c>, <c>"max"</c>.</summary>
    public JsonElement? Think { get; set; }
}

public sealed class ChatMessage
{
    public string? Role { get; set; }
    public string? Content { get; set; }
    public string? Thinking { get; set; }

    /// <summary>Raw base64 images (Ollama never uses data URLs here, but a data URL is accepted as well).</summary>
    public List<string>? Images { get; set; }

    public List<OllamaToolCall>? ToolCalls { get; set; }
    public string? ToolName { get; set; }
    public string? ToolCallId { get; set; }
}

/// <summary>A tool call in Ollama's shape: <c>arguments</c> is a JSON object, not OpenAI's JSON string.</summary>
public sealed class OllamaToolCall
{
    public string? Id { get; set; }
    public OllamaToolCallFunction? Function { get; set; }
}

public sealed class OllamaToolCallFunction
{
    public int? Index { get; set; }
    public string? Name { get; set; }
    public JsonElement? Arguments { get; set; }
}

/// <summary>
/// Ollama's <c>options</c> (Modelfile parameters, docs/protocol.md §2.6). The ones with an OpenAI sampling field are typed;
/// everything else (num_ctx, num_gpu, …) lands in <see cref="Unmapped"/> so it can be logged as ignored.
/// </summary>
public sealed class GenerationOptions
{
    public int? NumPredict { get; set; }
    public double? Temperature { get; set; }
    public double? TopP { get; set; }
    public int? TopK { get; set; }
    public long? Seed { get; set; }

    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Stop { get; set; }

    public double? PresencePenalty { get; set; }
    public double? FrequencyPenalty { get; set; }
    public double? RepeatPenalty { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unmapped { get; set; }
}
