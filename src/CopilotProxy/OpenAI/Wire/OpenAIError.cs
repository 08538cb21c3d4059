namespace CopilotProxy.OpenAI.Wire;

/// <summary>OpenAI's error envelope: <c>{"error":{"message","type","param","code"}}</c>.</summary>
public sealed record OpenAIErrorResponse(OpenAIError Error);

public sealed record OpenAIError(string Message, string Type, string? Param = null, string? Code = null);
