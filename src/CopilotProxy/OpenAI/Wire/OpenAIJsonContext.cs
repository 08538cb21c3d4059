using System.Text.Json.Serialization;

namespace CopilotProxy.OpenAI.Wire;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(OpenAIErrorResponse))]
[JsonSerializable(typeof(ModelList))]
internal sealed partial class OpenAIJsonContext : JsonSerializerContext;
