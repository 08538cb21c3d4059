namespace CopilotProxy.Upstream;

/// <summary>What server an upstream turned out to be, as the model catalog's discovery found it; error messages name it.</summary>
public enum UpstreamKind
{
    /// <summary>Not discovered yet.</summary>
    Unknown,

    /// <summary>LM Studio: it answered its own <c>/api/v1/models</c> or <c>/api/v0/models</c>.</summary>
    LmStudio,

    /// <summary>llama.cpp's <c>llama-server</c>: only <c>/v1/models</c>, whose entries carry its <c>meta</c> block or <c>owned_by: llamacpp</c>.</summary>
    LlamaCpp,

    /// <summary>Some other OpenAI-compatible server (vLLM, Ollama's /v1, a LiteLLM, …).</summary>
    OpenAICompatible,
}
