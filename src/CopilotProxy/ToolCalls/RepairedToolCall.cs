namespace CopilotProxy.ToolCalls;

/// <summary>A tool call the model wrote as text, turned into a structured call: <paramref name="Arguments"/> is a JSON object as a string, as OpenAI sends it.</summary>
public sealed record RepairedToolCall(string Id, string Name, string Arguments)
{
    /// <summary>A new call id in OpenAI's shape (<c>call_</c> and 24 hex digits), unique across answers.</summary>
    public static string NewId() => "call_" + Guid.NewGuid().ToString("N")[..24];
}

/// <summary>Why text that looked like a tool call was passed through as text.</summary>
public enum ToolCallRepairRejection
{
    /// <summary>The text is not in any tool-call form (a JSON answer, a markdown link, a code block); not logged above Debug.</summary>
    NotAToolCall,
    InvalidJson,
    UnknownTool,
    MissingName,
    Unclosed,
    Truncated,
    TextAfterCall,

    /// <summary>A value does not fit the type the tool's JSON schema gives its parameter (an integer that is not a number).</summary>
    InvalidArguments,
}

/// <summary>A format's verdict on text it recognised but will not turn into calls, with the tool name when one was read.</summary>
public readonly record struct Refusal(ToolCallRepairRejection Reason, string? Name = null);
