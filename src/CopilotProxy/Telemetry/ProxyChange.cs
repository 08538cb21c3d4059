using System.Text.Json.Serialization;

namespace CopilotProxy.Telemetry;

/// <summary>The kinds of change the proxy makes to a request or its answer, as the request inspector lists them.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ProxyChangeKind>))]
public enum ProxyChangeKind
{
    /// <summary>The model name the client asked for went upstream under another name (catalog alias, config.yaml entry).</summary>
    ModelRenamed,

    /// <summary>Tool calls that came without an id got one the client can answer to.</summary>
    ToolCallIdsRewritten,

    /// <summary>Tool calls the model wrote as text became structured calls (TOOL_CALL_REPAIR).</summary>
    ToolCallsRepaired,

    /// <summary><c>&lt;think&gt;</c>-style reasoning was moved out of the answer's text.</summary>
    ReasoningMoved,

    /// <summary>The model was loaded or reloaded with the context floor (MIN_CONTEXT_LENGTH, num_ctx) before the request went.</summary>
    ContextFloor,

    /// <summary>An upstream attempt failed in a way that can pass on a second try, and the request was sent again.</summary>
    Retry,

    /// <summary>The model's own group failed and a <c>fallbacks</c> group answered.</summary>
    Fallback,
}

/// <summary>
/// One thing the proxy changed about a request or its answer. Any component adds one through
/// <see cref="RequestTelemetry.AddChange"/>; the inspector shows them in order.
/// </summary>
/// <param name="Detail">What changed, for a person: "qwen3:latest → qwen/qwen3-8b", "503 from http://…".</param>
/// <param name="Format">For repaired tool calls and moved reasoning: the form the model wrote them in (<c>hermes</c>, <c>json</c>, <c>think</c>, …).</param>
/// <param name="Count">How many calls or ids, where that is the measure.</param>
public sealed record ProxyChange(ProxyChangeKind Kind, string Detail, string? Format = null, int? Count = null);
