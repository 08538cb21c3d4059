using System.Text.Json.Serialization;

namespace CopilotProxy.OpenAI.Wire;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(OpenAIErrorResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(ModelInfoList))]
[JsonSerializable(typeof(AnthropicErrorResponse))]
internal sealed partial class OpenAIJsonContext : JsonSerializerContext;
