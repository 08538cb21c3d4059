using System.IO.Hashing;
using System.Text;
using CopilotProxy.Catalog;
using CopilotProxy.Ollama.Wire;

namespace CopilotProxy.Ollama;

/// <summary>Projects model catalog entries into Ollama's shapes (protocol.md §3.4, "Mapping LM Studio /api/v1/models into Ollama").</summary>
public static class OllamaModelProjection
{
    /// <summary>Used when the upstream does not say; Copilot only needs some architecture to find the context_length key.</summary>
    private const string UnknownArchitecture = "unknown";

    public static ListModel ToListModel(CatalogModel model) =>
        new(model.OllamaName, model.OllamaName, model.FirstSeen, model.SizeBytes, Digest(model), Details(model));

    public static ShowResponse ToShowResponse(CatalogModel model)
    {
        var architecture = string.IsNullOrEmpty(model.Architecture) ? UnknownArchitecture : model.Architecture;
        var parameters = model.ContextLength is { } context ? $"num_ctx {context}" : string.Empty;
        return new ShowResponse(
            Modelfile: $"# Served by copilot-proxy from the upstream model {model.UpstreamId}\nFROM {model.UpstreamId}\n",
            Parameters: parameters,
            Template: string.Empty,
            Details: Details(model),
            ModelInfo: new ModelInfo(architecture, model.DisplayName ?? model.Id, model.ContextLength, null),
            Capabilities: Capabilities(model),
            ModifiedAt: model.FirstSeen);
    }

    public static ProcessModel ToProcessModel(CatalogModel model) =>
        // LM Studio doesn't report the GPU/CPU split or its TTL; the model counts as fully offloaded and kept loaded.
        new(model.OllamaName, model.OllamaName, model.SizeBytes, Digest(model), Details(model), DateTimeOffset.MaxValue, model.SizeBytes, model.ContextLength);

    public static IReadOnlyList<string> Capabilities(CatalogModel model) => ModelCapabilities.Of(model);

    private static ModelDetails Details(CatalogModel model)
    {
        var family = model.Architecture ?? string.Empty;
        return new ModelDetails(
            ParentModel: string.Empty,
            Format: model.Format ?? "gguf",
            Family: family,
            Families: family.Length > 0 ? [family] : null,
            ParameterSize: model.ParameterSize ?? string.Empty,
            QuantizationLevel: model.Quantization ?? string.Empty);
    }

    /// <summary>
    /// A stable stand-in for Ollama's blob digest: clients use it to tell models apart, and LM Studio has none. It only has
    /// to look like Ollama's 64 hex digits and never change for a name, so two seeded XxHash128s do; SHA-256 would load
    /// OpenSSL into an otherwise plain-HTTP process and cost about 3 MB of resident memory for an identifier.
    /// </summary>
    private static string Digest(CatalogModel model)
    {
        var name = Encoding.UTF8.GetBytes(model.Id);
        Span<byte> digest = stackalloc byte[32];
        XxHash128.Hash(name, digest[..16], seed: 0);
        XxHash128.Hash(name, digest[16..], seed: 0x6f6c6c616d61);
        return Convert.ToHexStringLower(digest);
    }
}
