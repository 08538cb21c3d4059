namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// Gemma 4: <c>&lt;|tool_call&gt;call:NAME{key:&lt;|"|&gt;text&lt;|"|&gt;,n:3}&lt;tool_call|&gt;</c>: bare keys, strings
/// between <c>&lt;|"|&gt;</c> quotes, numbers, booleans, null, lists and nested objects.
/// </summary>
internal sealed class Gemma4Format : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<|tool_call>"u8;
    private static ReadOnlySpan<byte> Close => "<tool_call|>"u8;
    private static ReadOnlySpan<byte> Call => "call:"u8;

    public string Name => "gemma4";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var at = JsonText.SkipWhitespace(text, Open.Length);
        switch (JsonText.Matches(text, at, Call))
        {
            case -1:
                return FormatParse.NotMine;
            case 0:
                return FormatParse.Open(final);
        }

        var end = TagText.Find(text, at, Close);
        if (end < 0)
        {
            return FormatParse.Open(final);
        }

        var inner = text[..end];
        at += Call.Length;
        var brace = inner[at..].IndexOf((byte)'{');
        if (brace < 0)
        {
            return TagText.Malformed();
        }

        var name = TagText.Utf8(inner.Slice(at, brace).Trim(" \t\r\n"u8));
        at += brace + 1;
        var arguments = LiteralCalls.Arguments(inner, ref at, gemma: true, out _);
        if (arguments is null || !TagText.AtEnd(inner, at))
        {
            return TagText.Malformed(name);
        }

        return FormatParse.DoneOr(calls.AddWritten(name, arguments), end + Close.Length);
    }
}
