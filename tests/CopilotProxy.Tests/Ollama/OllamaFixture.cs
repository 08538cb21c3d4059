using System.Text;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Ollama;

/// <summary>The models the Ollama front door tests use, in front of the one in-process harness, <see cref="ProxyFixture"/>.</summary>
internal static class OllamaFixture
{
    public const string Qwen = "qwen/qwen3-8b";
    public const string Gemma = "google/gemma-3-12b";
    public const string Nomic = "text-embedding-nomic-embed-text-v1.5";

    /// <summary>
    /// Qwen: loaded, tools, vision, reasoning. Gemma: not loaded, no tool training. Nomic: a loaded embedding model.
    /// </summary>
    public static Task<ProxyFixture> StartAsync(FakeApiLevel level = FakeApiLevel.V1) =>
        ProxyFixture.StartAsync(
            [
                FakeModel.Llm(Qwen, loadedContextLength: 16384, reasoning: true, vision: true),
                new FakeModel(Gemma, DisplayName: "Gemma 3 12B", TrainedForToolUse: false),
                FakeModel.Embedding(Nomic),
            ],
            level,
            s => s with { UpstreamIdleTimeout = TimeSpan.FromSeconds(20) });

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static List<JsonObject> ParseLines(string ndjson) =>
        [.. ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject())];
}
