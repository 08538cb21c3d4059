using System.Text.Json;
using System.Text.Json.Serialization;

namespace CopilotProxy.Catalog.Wire;

/// <summary>LM Studio ≥0.4 <c>GET /api/v1/models</c>.</summary>
public sealed class LmStudioV1ModelList
{
    public List<LmStudioV1Model>? Models { get; set; }
}

public sealed class LmStudioV1Model
{
    public string? Type { get; set; }
    public string? Publisher { get; set; }
    public string? Key { get; set; }
    public string? DisplayName { get; set; }
    public string? Architecture { get; set; }
    public LmStudioQuantization? Quantization { get; set; }
    public long? SizeBytes { get; set; }
    public string? ParamsString { get; set; }
    public List<LmStudioLoadedInstance>? LoadedInstances { get; set; }
    public int? MaxContextLength { get; set; }
    public string? Format { get; set; }
    public LmStudioCapabilities? Capabilities { get; set; }
}

public sealed class LmStudioQuantization
{
    public string? Name { get; set; }
    public double? BitsPerWeight { get; set; }
}

public sealed class LmStudioLoadedInstance
{
    public string? Id { get; set; }
    public LmStudioInstanceConfig? Config { get; set; }
}

public sealed class LmStudioInstanceConfig
{
    public int? ContextLength { get; set; }

    /// <summary>Requests the loaded instance serves at once (LM Studio 0.4's parallel slots, set with <c>lms load --parallel</c>).</summary>
    public int? Parallel { get; set; }
}

public sealed class LmStudioCapabilities
{
    public bool? Vision { get; set; }
    public bool? TrainedForToolUse { get; set; }

    /// <summary>An object (<c>{allowed_options, default}</c>) when the model can reason; kept raw because its shape has changed between builds.</summary>
    public JsonElement? Reasoning { get; set; }
}

/// <summary>LM Studio 0.3.x <c>GET /api/v0/models</c>.</summary>
public sealed class LmStudioV0ModelList
{
    public List<LmStudioV0Model>? Data { get; set; }
}

public sealed class LmStudioV0Model
{
    public string? Id { get; set; }
    public string? Type { get; set; }
    public string? Publisher { get; set; }
    public string? Arch { get; set; }
    public string? CompatibilityType { get; set; }
    public string? Quantization { get; set; }
    public string? State { get; set; }
    public int? MaxContextLength { get; set; }
    public int? LoadedContextLength { get; set; }
    public List<string>? Capabilities { get; set; }
}

/// <summary>Plain OpenAI <c>GET /v1/models</c>; llama.cpp's server adds a <c>meta</c> block with the context sizes.</summary>
public sealed class OpenAIModelListing
{
    public List<OpenAIModelListingEntry>? Data { get; set; }
}

public sealed class OpenAIModelListingEntry
{
    public string? Id { get; set; }
    public string? OwnedBy { get; set; }
    public LlamaServerMeta? Meta { get; set; }
}

public sealed class LlamaServerMeta
{
    public int? NCtx { get; set; }
    public int? NCtxTrain { get; set; }
    public long? NParams { get; set; }
    public long? Size { get; set; }
}

// Read only: the metadata reading needs, without the fast-path serializer (docs/performance.md, "Footprint").
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowReadingFromString,
    GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(LmStudioV1ModelList))]
[JsonSerializable(typeof(LmStudioV0ModelList))]
[JsonSerializable(typeof(OpenAIModelListing))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;
