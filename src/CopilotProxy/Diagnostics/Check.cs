namespace CopilotProxy.Diagnostics;

public enum CheckStatus
{
    /// <summary>Works as Copilot needs it (✓).</summary>
    Pass,

    /// <summary>Broken: Copilot or a client will fail (✗); doctor exits non-zero.</summary>
    Fail,

    /// <summary>Nothing to judge, just information (·).</summary>
    Info,
}

/// <summary>One pre-flight or doctor finding: what was checked, what was seen, and for a failure how to fix it.</summary>
public sealed record Check(CheckStatus Status, string Title, string? Fix = null)
{
    public static Check Pass(string title) => new(CheckStatus.Pass, title);

    public static Check Fail(string title, string fix) => new(CheckStatus.Fail, title, fix);

    public static Check Info(string title) => new(CheckStatus.Info, title);

    public string Symbol => Status switch
    {
        CheckStatus.Pass => "✓",
        CheckStatus.Fail => "✗",
        _ => "·",
    };
}
