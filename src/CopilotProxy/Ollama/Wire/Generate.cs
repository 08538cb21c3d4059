using System.Text.Json;

namespace CopilotProxy.Ollama.Wire;

/// <summary><c>POST /api/generate</c> (docs/protocol.md §2.5).</summary>
public sealed class GenerateRequest
{
    public string? Model { get; set; }
    public string? Prompt { get; set; }
    public string? Suffix { get; set; }
    public string? System { get; set; }

    /// <summary>Accepted and ignored: LM Studio applies the model's own chat template.</summary>
    public string? Template { get; set; }

    /// <summary>Deprecated token context from an earlier answer; accepted and ignored (LM Studio exposes no token ids).</summary>
    public List<long>? Context { get; set; }

    public bool? Stream { get; set; }
    public bool? Raw { get; set; }
    public JsonElement? Format { get; set; }
    public JsonElement? KeepAlive { get; set; }
    public List<string>? Images { get; set; }
    public GenerationOptions? Options { get; set; }
    public JsonElement? Think { get; set; }
}
