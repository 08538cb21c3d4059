namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// GLM-4.5, 4.6 and 4.7: <c>&lt;tool_call&gt;NAME&lt;arg_key&gt;K&lt;/arg_key&gt;&lt;arg_value&gt;V&lt;/arg_value&gt;…&lt;/tool_call&gt;</c>,
/// with or without a newline after the name and each pair; values typed by the tool's schema.
/// </summary>
internal sealed class GlmFormat : IToolCallFormat
{
    private static ReadOnlySpan<byte> Key => "<arg_key>"u8;
    private static ReadOnlySpan<byte> KeyEnd => "</arg_key>"u8;
    private static ReadOnlySpan<byte> Value => "<arg_value>"u8;
    private static ReadOnlySpan<byte> ValueEnd => "</arg_value>"u8;

    // No tool name is this long; a longer run of text after the tag is prose.
    private const int MaxName = 128;

    public string Name => "glm";
    public IReadOnlyList<byte[]> Markers { get; } = [HermesFormat.Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var start = HermesFormat.Open.Length;
        if (start == text.Length)
        {
            return FormatParse.Open(final);
        }

        // The name follows the tag directly; whitespace, JSON or a tag there belong to the other <tool_call> formats.
        if (text[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)'{' or (byte)'[' or (byte)'<')
        {
            return FormatParse.NotMine;
        }

        var nameEnd = text[start..].IndexOfAny("<\n"u8);
        var name = nameEnd < 0 ? text[start..] : text.Slice(start, nameEnd);
        if (name.IndexOfAny(" \t"u8) >= 0 || name.Length > MaxName)
        {
            return FormatParse.NotMine;
        }

        if (nameEnd < 0)
        {
            return FormatParse.Open(final);
        }

        var end = TagText.Find(text, start, HermesFormat.Close);
        if (end < 0)
        {
            return FormatParse.Open(final);
        }

        var inner = text[..end];
        var toolName = TagText.Utf8(name.Trim("\r"u8));
        var arguments = new List<(string, string)>();
        var at = start + nameEnd;
        while (!TagText.AtEnd(inner, at))
        {
            if (!TagText.TryTake(inner, ref at, Key, KeyEnd, out var key) || !TagText.TryTake(inner, ref at, Value, ValueEnd, out var value))
            {
                return TagText.Malformed(toolName);
            }

            arguments.Add((TagText.Utf8(key.Trim(" \t\r\n"u8)), TagText.Utf8(value)));
        }

        return FormatParse.DoneOr(calls.AddTyped(toolName, arguments), end + HermesFormat.Close.Length);
    }
}
