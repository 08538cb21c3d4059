namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// Olmo 3: <c>&lt;function_calls&gt;</c>, then one Python call per line (<c>get_weather(city='Paris', days=3)</c>), then
/// <c>&lt;/function_calls&gt;</c>. Arguments are Python literals; JSON's <c>true</c>, <c>false</c> and <c>null</c> are taken too,
/// as the model writes both.
/// </summary>
/// <remarks>
/// Unlike the <c>pythonic</c> form there is no list around the calls, and the tag makes the block unambiguous, so it
/// counts after text as well. A name not followed by <c>(</c> right after the tag is prose that names the tag.
/// </remarks>
internal sealed class Olmo3Format : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<function_calls>"u8;
    private static ReadOnlySpan<byte> Close => "</function_calls>"u8;

    public string Name => "olmo3";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var parsed = new List<(string Name, byte[] Arguments)>();
        var at = Open.Length;
        while (true)
        {
            at = JsonText.SkipWhitespace(text, at);
            if (JsonText.Matches(text, at, Close) is var closed and >= 0)
            {
                if (closed == 0)
                {
                    return FormatParse.Open(final);
                }

                at += Close.Length;
                break;
            }

            var nameStart = at;
            while (at < text.Length && (char.IsAsciiLetterOrDigit((char)text[at]) || text[at] is (byte)'_' or (byte)'.' or (byte)'-'))
            {
                at++;
            }

            if (at == text.Length)
            {
                return FormatParse.Open(final);
            }

            if (at == nameStart || text[at] != (byte)'(')
            {
                // Prose after the tag ("<function_calls> is Olmo's tag"), or no call where the next one should be.
                return parsed.Count == 0 ? FormatParse.NotMine : TagText.Malformed();
            }

            var name = TagText.Utf8(text[nameStart..at]);
            at++;
            var arguments = LiteralCalls.Arguments(text, ref at, gemma: false, out var status);
            if (arguments is null)
            {
                return status == LiteralStatus.Incomplete ? FormatParse.Open(final) : TagText.Malformed(name);
            }

            parsed.Add((name, arguments));
        }

        if (parsed.Count == 0)
        {
            return FormatParse.NotMine;
        }

        foreach (var (name, arguments) in parsed)
        {
            if (calls.AddWritten(name, arguments) is { } refused)
            {
                return FormatParse.Refuse(refused);
            }
        }

        return FormatParse.Done(at);
    }
}
