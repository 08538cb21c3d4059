using System.Text.Json.Serialization;

namespace CopilotProxy.OpenAI.Wire;

// Written only: the fast-path serializer alone, without the metadata reading needs (docs/performance.md, "Footprint").
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(OpenAIErrorResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(ModelInfoList))]
[JsonSerializable(typeof(AnthropicErrorResponse))]
internal sealed partial class OpenAIJsonContext : JsonSerializerContext;
