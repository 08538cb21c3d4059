namespace CopilotProxy.ToolCalls.Formats;

/// <summary>ByteDance Seed-OSS: Qwen3-Coder's inside, in <c>&lt;seed:tool_call&gt;…&lt;/seed:tool_call&gt;</c>.</summary>
internal sealed class SeedOssFormat : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<seed:tool_call>"u8;
    private static ReadOnlySpan<byte> Close => "</seed:tool_call>"u8;

    public string Name => "seed-oss";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls) => FunctionTagCalls.Parse(text, Open, Close, final, calls);
}
