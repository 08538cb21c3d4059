using CopilotProxy.Telemetry;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.ToolCalls;

/// <summary>
/// What the repair needs from a request: the tools it offered and the formats enabled for its model. No tools, or the
/// repair off (TOOL_CALL_REPAIR=false or the model's <c>tool_call_format: off</c>), means no repair.
/// </summary>
public readonly record struct ToolCallOffer(OfferedTool[] Tools, ToolCallFormats? Formats)
{
    /// <summary>True when answers to this request are repaired.</summary>
    public bool Offered => Tools is { Length: > 0 } && Formats is not null;

    /// <summary>A repair for one answer, or null when <see cref="Offered"/> is false.</summary>
    public ToolCallRepair? NewRepair(string model, ILogger logger, RequestTelemetry? telemetry = null) =>
        Offered ? new ToolCallRepair(Tools, model, logger, Formats, telemetry) : null;
}
