using System.Text.Json;

namespace CopilotProxy.ToolCalls;

/// <summary>
/// A function the request offered: its name (a call must name one) and its parameters' JSON schema (how string values
/// written by XML and key/value formats are typed). <see cref="Parameters"/> is <c>default</c> when the tool gives none.
/// </summary>
/// <remarks>The schema element points into the request's document, which outlives the relay; nothing is copied per request.</remarks>
public sealed record OfferedTool(string Name, JsonElement Parameters)
{
    /// <summary>A tool offered by name only, without a schema: its string arguments are typed by what they look like.</summary>
    public static implicit operator OfferedTool(string name) => new(name, default);

    /// <summary>The tools of a chat request (OpenAI's and Ollama's <c>tools</c> have the same shape: <c>function.name</c>, <c>function.parameters</c>).</summary>
    public static OfferedTool[] FromChatTools(IEnumerable<JsonElement>? tools)
    {
        List<OfferedTool>? offered = null;
        foreach (var tool in tools ?? [])
        {
            if (tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("function"u8, out var function) && function.ValueKind == JsonValueKind.Object
                && function.TryGetProperty("name"u8, out var name) && name.ValueKind == JsonValueKind.String && name.GetString() is { Length: > 0 } text)
            {
                (offered ??= []).Add(new OfferedTool(text, function.TryGetProperty("parameters"u8, out var schema) ? schema : default));
            }
        }

        return offered is null ? [] : [.. offered];
    }

    /// <summary>
    /// The tools of a Responses or Anthropic Messages request: both put <c>name</c> at the top of each tool; the schema is
    /// <c>parameters</c> (Responses) or <c>input_schema</c> (Messages).
    /// </summary>
    public static OfferedTool[] FromEventApiTools(JsonElement request)
    {
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("tools"u8, out var tools) || tools.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        List<OfferedTool>? offered = null;
        foreach (var tool in tools.EnumerateArray())
        {
            // Responses' built-in tools (web_search, file_search) have no name and cannot be written as a function call.
            if (tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("name"u8, out var name) && name.ValueKind == JsonValueKind.String
                && name.GetString() is { Length: > 0 } text
                && (!tool.TryGetProperty("type"u8, out var type) || type.ValueKind != JsonValueKind.String || type.ValueEquals("function"u8) || type.ValueEquals("custom"u8)))
            {
                var schema = tool.TryGetProperty("parameters"u8, out var parameters) ? parameters
                    : tool.TryGetProperty("input_schema"u8, out var input) ? input : default;
                (offered ??= []).Add(new OfferedTool(text, schema));
            }
        }

        return offered is null ? [] : [.. offered];
    }
}
