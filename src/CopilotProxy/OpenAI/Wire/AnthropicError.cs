using System.Text.Json.Serialization;

namespace CopilotProxy.OpenAI.Wire;

/// <summary>Anthropic's error envelope, which the Messages API answers with: <c>{"type":"error","error":{"type","message"}}</c>.</summary>
public sealed record AnthropicErrorResponse(AnthropicError Error)
{
    [JsonPropertyOrder(-1)]
    public string Type => "error";
}

public sealed record AnthropicError(string Type, string Message);
