namespace CopilotProxy.Configuration;

/// <summary>
/// The values <c>model_info.tool_call_format</c> accepts: <c>auto</c>, <c>off</c>, or the name of one tool-call format
/// (docs/models.md). Kept here so the config reader can check them without depending on the repair; ToolCallFormatsTests
/// holds this list to the formats the repair has.
/// </summary>
public static class ToolCallFormatNames
{
    public const string Auto = "auto";
    public const string Off = "off";

    public static IReadOnlyList<string> Formats { get; } =
        ["hermes", "qwen3-coder", "seed-oss", "glm", "mistral", "llama3", "pythonic", "deepseek", "kimi-k2", "minimax-m2", "harmony", "granite", "phi4-mini", "gemma4", "olmo3", "json"];

    /// <summary>Every accepted value, for the error that names them.</summary>
    public static IReadOnlyList<string> Settings { get; } = [Auto, Off, .. Formats];

    public static bool IsSetting(string setting) => Settings.Contains(setting, StringComparer.OrdinalIgnoreCase);
}
