using Microsoft.Extensions.Logging;

namespace CopilotProxy.Reasoning;

/// <summary>Reasoning-written-as-text log lines; event ids 13xx (12xx are the key database's).</summary>
internal static partial class ReasoningLog
{
    [LoggerMessage(1300, LogLevel.Information,
        "Model {Model} wrote </think> with no <think> before it: its chat template opens the reasoning in the prompt, so the reasoning before the tag went out as answer text. Set model_info.reasoning_format: think-open for this model in config.yaml to show it as reasoning.")]
    public static partial void ClosingTagOnly(ILogger logger, string model);
}
