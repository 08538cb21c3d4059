using System.Text.Json;
using System.Text.Json.Serialization;
using CopilotProxy.Upstream;

namespace CopilotProxy.Ollama.Wire;

/// <summary><c>GET /api/version</c>.</summary>
public sealed record VersionResponse(string Version);

/// <summary><c>GET /api/tags</c>.</summary>
public sealed record TagsResponse(IReadOnlyList<ListModel> Models);

/// <summary>One entry of <c>/api/tags</c>; Copilot reads only <c>model</c>, other clients read <c>name</c> and <c>details</c>.</summary>
public sealed record ListModel(string Name, string Model, DateTimeOffset ModifiedAt, long Size, string Digest, ModelDetails Details);

public sealed record ModelDetails(string ParentModel, string Format, string Family, IReadOnlyList<string>? Families, string ParameterSize, string QuantizationLevel);

/// <summary><c>POST /api/show</c>; <c>name</c> is the deprecated spelling of <c>model</c>.</summary>
public sealed class ShowRequest
{
    public string? Model { get; set; }
    public string? Name { get; set; }
    public bool? Verbose { get; set; }
}

public sealed record ShowResponse(
    string Modelfile,
    string Parameters,
    string Template,
    ModelDetails Details,
    ModelInfo ModelInfo,
    IReadOnlyList<string> Capabilities,
    DateTimeOffset ModifiedAt);

/// <summary>
/// The GGUF key/value map of <c>/api/show</c>. Its keys are prefixed with the architecture
/// (<c>qwen3.context_length</c>), which is why it has a converter instead of fixed property names.
/// </summary>
[JsonConverter(typeof(ModelInfoConverter))]
public sealed record ModelInfo(string Architecture, string? BaseName, int? ContextLength, long? ParameterCount);

internal sealed class ModelInfoConverter : JsonConverter<ModelInfo>
{
    public override ModelInfo Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("model_info is only written by the proxy.");

    public override void Write(Utf8JsonWriter writer, ModelInfo value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("general.architecture", value.Architecture);
        if (value.BaseName is not null)
        {
            writer.WriteString("general.basename", value.BaseName);
        }

        if (value.ParameterCount is { } parameters)
        {
            writer.WriteNumber("general.parameter_count", parameters);
        }

        if (value.ContextLength is { } context)
        {
            writer.WriteNumber(value.Architecture + ".context_length", context);
        }

        writer.WriteEndObject();
    }
}

/// <summary><c>GET /api/ps</c>.</summary>
public sealed record PsResponse(IReadOnlyList<ProcessModel> Models);

public sealed record ProcessModel(string Name, string Model, long Size, string Digest, ModelDetails Details, DateTimeOffset ExpiresAt, long SizeVram, int? ContextLength);

/// <summary>
/// <c>GET /api/experimental/model-recommendations</c>, which the Ollama VS Code extension asks for during discovery and
/// waits up to 2 s on. Ollama's recommendations name its own library, which LM Studio doesn't serve, so the list is empty.
/// </summary>
public sealed record RecommendationsResponse(IReadOnlyList<ModelRecommendation> Recommendations);

public sealed record ModelRecommendation(string Model);

/// <summary>Ollama's error body: a string, not OpenAI's object.</summary>
public sealed record OllamaError(string Error);

// What clients send is read only (the version is written too, which metadata also serves): no fast-path serializer.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(StrictJson.ElementConverter), typeof(StrictJson.FiniteDoubleConverter)], GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(VersionResponse))]
[JsonSerializable(typeof(ShowRequest))]
[JsonSerializable(typeof(ChatRequest))]
[JsonSerializable(typeof(GenerateRequest))]
[JsonSerializable(typeof(EmbedRequest))]
[JsonSerializable(typeof(EmbeddingsRequest))]
[JsonSerializable(typeof(OpenAIEmbeddingList))]
[JsonSerializable(typeof(ModelRequest))]
[JsonSerializable(typeof(CopyRequest))]
internal sealed partial class OllamaJsonContext : JsonSerializerContext;

// The front door's answers are written only: the fast-path serializer alone, without the metadata reading needs
// (docs/performance.md, "Footprint"). The strict converters above only matter when reading, so they are not needed here.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(TagsResponse))]
[JsonSerializable(typeof(ShowResponse))]
[JsonSerializable(typeof(PsResponse))]
[JsonSerializable(typeof(OllamaError))]
[JsonSerializable(typeof(EmbedResponse))]
[JsonSerializable(typeof(EmbeddingsResponse))]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(RecommendationsResponse))]
internal sealed partial class OllamaResponseJsonContext : JsonSerializerContext;
