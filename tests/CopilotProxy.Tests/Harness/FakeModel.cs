namespace CopilotProxy.Tests.Harness;

/// <summary>Which native APIs the fake LM Studio exposes.</summary>
public enum FakeApiLevel
{
    /// <summary>LM Studio 0.4.x: /api/v1/models, /api/v0/models and /v1/models.</summary>
    V1,

    /// <summary>LM Studio 0.3.x: /api/v0/models and /v1/models; /api/v1/* gets LM Studio's 200 "Unexpected endpoint" body.</summary>
    V0,

    /// <summary>A plain OpenAI-compatible server (llama.cpp): only /v1/*; everything under /api/* is 404.</summary>
    OpenAIOnly,
}

/// <summary>
/// One downloaded model as LM Studio knows it. <see cref="LoadedContextLength"/> null means "downloaded, not loaded".
/// <see cref="Type"/> is "llm", "vlm" or "embedding" (mapped per API: v0 says "embeddings", v1 folds "vlm" into "llm" + vision).
/// </summary>
public sealed record FakeModel(
    string Key,
    string Type = "llm",
    string? DisplayName = null,
    string Architecture = "qwen3",
    string Publisher = "lmstudio-community",
    string Format = "gguf",
    string Quantization = "Q4_K_M",
    double BitsPerWeight = 4,
    string ParamsString = "8B",
    long SizeBytes = 5_030_000_000,
    int MaxContextLength = 32768,
    int? LoadedContextLength = null,
    bool TrainedForToolUse = true,
    bool Vision = false,
    bool Reasoning = false)
{
    public bool IsLoaded => LoadedContextLength is not null;

    public bool IsEmbedding => Type is "embedding" or "embeddings";

    /// <summary>A tool-capable chat model, loaded with the given context length (null = not loaded).</summary>
    public static FakeModel Llm(string key, int? loadedContextLength = 8192, bool reasoning = false, bool vision = false) =>
        new(key, vision ? "vlm" : "llm", DisplayName: key, LoadedContextLength: loadedContextLength, Reasoning: reasoning, Vision: vision);

    /// <summary>An embedding model as LM Studio ships them (nomic-embed-text style).</summary>
    public static FakeModel Embedding(string key, int? loadedContextLength = 2048) =>
        new(key, "embedding", DisplayName: key, Architecture: "nomic-bert", Publisher: "nomic-ai", Quantization: "Q4_K_M",
            ParamsString: "137M", SizeBytes: 84_106_624, MaxContextLength: 2048, LoadedContextLength: loadedContextLength,
            TrainedForToolUse: false);
}
