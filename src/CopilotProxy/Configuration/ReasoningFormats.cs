namespace CopilotProxy.Configuration;

/// <summary>
/// The ways a model writes its reasoning into the answer text when the upstream does not separate it (docs/models.md,
/// "Reasoning written as text"). A set: <see cref="Auto"/> watches every form that can be told apart at the start of the
/// answer.
/// </summary>
[Flags]
public enum ReasoningFormats
{
    /// <summary>Nothing is taken out of the text.</summary>
    None = 0,

    /// <summary><c>&lt;think&gt;…&lt;/think&gt;</c> at the start of the answer (Qwen3, DeepSeek-R1-0528, GLM-4.5 and later).</summary>
    Think = 1,

    /// <summary>
    /// The answer starts inside the reasoning and only <c>&lt;/think&gt;</c> ends it: templates that write <c>&lt;think&gt;</c>
    /// into the prompt (QwQ, DeepSeek-R1 distills, Qwen3 thinking-2507). Never part of <see cref="Auto"/>: without the
    /// opening tag, ordinary text can't be told from reasoning until the closing tag, so it is chosen per model.
    /// </summary>
    ThinkOpen = 2,

    /// <summary><c>[THINK]…[/THINK]</c> (Magistral, Ministral reasoning).</summary>
    Mistral = 4,

    /// <summary><c>&lt;seed:think&gt;…&lt;/seed:think&gt;</c> (ByteDance Seed-OSS).</summary>
    Seed = 8,

    /// <summary>gpt-oss harmony channels: <c>analysis</c> is reasoning, <c>final</c> the answer.</summary>
    Harmony = 16,

    /// <summary>Gemma 4's <c>&lt;|channel&gt;thought…&lt;channel|&gt;</c>.</summary>
    Gemma = 32,

    /// <summary>Every form recognisable by its opening marker at the start of the answer.</summary>
    Auto = Think | Mistral | Seed | Harmony | Gemma,
}

/// <summary>The names <c>model_info.reasoning_format</c> accepts, and their meaning.</summary>
public static class ReasoningFormatNames
{
    /// <summary>Every accepted name, in the order error messages and docs list them.</summary>
    public static IReadOnlyList<(string Name, ReasoningFormats Formats)> All { get; } =
    [
        ("auto", ReasoningFormats.Auto),
        ("off", ReasoningFormats.None),
        ("think", ReasoningFormats.Think),
        ("think-open", ReasoningFormats.ThinkOpen),
        ("mistral", ReasoningFormats.Mistral),
        ("seed", ReasoningFormats.Seed),
        ("harmony", ReasoningFormats.Harmony),
        ("gemma4", ReasoningFormats.Gemma),
    ];

    /// <summary>The formats a name stands for (any case, surrounding spaces ignored); false when it names none.</summary>
    public static bool TryParse(string text, out ReasoningFormats formats)
    {
        var name = text.Trim();
        foreach (var (known, value) in All)
        {
            if (string.Equals(known, name, StringComparison.OrdinalIgnoreCase))
            {
                formats = value;
                return true;
            }
        }

        formats = ReasoningFormats.None;
        return false;
    }

    /// <summary>The name of a single format (or auto/off), for the request log and metrics.</summary>
    public static string NameOf(ReasoningFormats formats)
    {
        foreach (var (known, value) in All)
        {
            if (value == formats)
            {
                return known;
            }
        }

        return formats.ToString();
    }

    /// <summary>The formats a request for this model uses: its own <c>reasoning_format</c>, else REASONING_TAGS's auto or nothing.</summary>
    public static ReasoningFormats For(ReasoningFormats? modelFormat, bool reasoningTags) =>
        modelFormat ?? (reasoningTags ? ReasoningFormats.Auto : ReasoningFormats.None);
}
