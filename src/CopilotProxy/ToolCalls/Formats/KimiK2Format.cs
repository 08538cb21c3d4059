namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// Kimi K2: <c>&lt;|tool_calls_section_begin|&gt;&lt;|tool_call_begin|&gt;functions.NAME:0&lt;|tool_call_argument_begin|&gt;{…}&lt;|tool_call_end|&gt;…&lt;|tool_calls_section_end|&gt;</c>.
/// The model's <c>functions.NAME:i</c> id repeats across turns, so the calls get the proxy's unique ids.
/// </summary>
internal sealed class KimiK2Format : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<|tool_calls_section_begin|>"u8;
    private static ReadOnlySpan<byte> Close => "<|tool_calls_section_end|>"u8;
    private static ReadOnlySpan<byte> Call => "<|tool_call_begin|>"u8;
    private static ReadOnlySpan<byte> CallEnd => "<|tool_call_end|>"u8;
    private static ReadOnlySpan<byte> Arguments => "<|tool_call_argument_begin|>"u8;

    public string Name => "kimi-k2";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls) =>
        TagText.ReadSection(text, final, calls, Open, Close, Call, CallEnd, ReadCall, jsonBodies: true);

    private static FormatParse? ReadCall(ReadOnlySpan<byte> call, ParsedCalls calls)
    {
        var split = call.IndexOf(Arguments);
        if (split < 0)
        {
            return TagText.Malformed();
        }

        var id = call[..split].Trim(" \t\r\n"u8);
        if (id.StartsWith("functions."u8))
        {
            id = id["functions."u8.Length..];
        }

        if (id.LastIndexOf((byte)':') is var colon and >= 0)
        {
            id = id[..colon];
        }

        return calls.AddJson(TagText.Utf8(id), call[(split + Arguments.Length)..]) is { } refused ? FormatParse.Refuse(refused) : null;
    }
}
