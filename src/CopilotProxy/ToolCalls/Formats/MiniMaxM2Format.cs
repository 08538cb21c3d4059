namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// MiniMax-M2: <c>&lt;minimax:tool_call&gt;&lt;invoke name="NAME"&gt;&lt;parameter name="K"&gt;V&lt;/parameter&gt;…&lt;/invoke&gt;…&lt;/minimax:tool_call&gt;</c>,
/// one or more invokes; values typed by the tool's schema.
/// </summary>
internal sealed class MiniMaxM2Format : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<minimax:tool_call>"u8;
    private static ReadOnlySpan<byte> Close => "</minimax:tool_call>"u8;
    private static ReadOnlySpan<byte> Invoke => "<invoke name="u8;
    private static ReadOnlySpan<byte> InvokeEnd => "</invoke>"u8;
    private static ReadOnlySpan<byte> Parameter => "<parameter name="u8;
    private static ReadOnlySpan<byte> ParameterEnd => "</parameter>"u8;

    public string Name => "minimax-m2";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls) =>
        TagText.ReadSection(text, final, calls, Open, Close, Invoke, InvokeEnd, ReadInvoke);

    private static FormatParse? ReadInvoke(ReadOnlySpan<byte> invoke, ParsedCalls calls)
    {
        if (!TryAttribute(invoke, out var name, out var p))
        {
            return TagText.Malformed();
        }

        var arguments = new List<(string, string)>();
        while (!TagText.AtEnd(invoke, p))
        {
            if (!TagText.TryTake(invoke, ref p, Parameter, ParameterEnd, out var parameter) || !TryAttribute(parameter, out var key, out var valueStart))
            {
                return TagText.Malformed(name);
            }

            arguments.Add((key, TagText.Utf8(parameter[valueStart..])));
        }

        return calls.AddTyped(name, arguments) is { } refused ? FormatParse.Refuse(refused) : null;
    }

    /// <summary>Reads <c>"value"&gt;</c> (quotes optional) at the start of a tag's remainder.</summary>
    private static bool TryAttribute(ReadOnlySpan<byte> rest, out string value, out int after)
    {
        value = "";
        after = rest.IndexOf((byte)'>');
        if (after < 0)
        {
            return false;
        }

        value = TagText.Utf8(rest[..after].Trim(" \t\"'"u8));
        after++;
        return value.Length > 0;
    }
}
