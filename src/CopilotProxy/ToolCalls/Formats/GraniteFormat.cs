namespace CopilotProxy.ToolCalls.Formats;

/// <summary>IBM Granite 3.x: <c>&lt;|tool_call|&gt;[{"name": …, "arguments": {…}}, …]</c>.</summary>
internal sealed class GraniteFormat : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<|tool_call|>"u8;

    public string Name => "granite";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var parse = JsonCallSequence.Parse(text, Open.Length, final, calls, separated: false);
        return parse.Status == ParseStatus.NotMine ? TagText.Malformed() : parse;
    }
}
