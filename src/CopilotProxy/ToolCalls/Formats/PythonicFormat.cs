namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// A Python list of calls as the whole answer: <c>[get_weather(city='Paris', days=3), search(q="x", exact=True)]</c>
/// (Llama 3.2 and 4, Olmo), arguments as Python literals.
/// </summary>
internal sealed class PythonicFormat : IToolCallFormat
{
    public string Name => "pythonic";
    public IReadOnlyList<byte[]> Markers { get; } = ["["u8.ToArray()];
    public bool AtStartOnly => true;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var at = 1;
        var parsed = new List<(string Name, byte[] Arguments)>();
        while (true)
        {
            at = JsonText.SkipWhitespace(text, at);
            var nameStart = at;
            while (at < text.Length && (char.IsAsciiLetterOrDigit((char)text[at]) || text[at] is (byte)'_' or (byte)'.' or (byte)'-'))
            {
                at++;
            }

            if (at == text.Length)
            {
                return Incomplete(final);
            }

            // A markdown link ("[text](url)"), a list of numbers or prose in brackets is no call.
            if (at == nameStart || text[at] != (byte)'(')
            {
                return FormatParse.NotMine;
            }

            var name = TagText.Utf8(text[nameStart..at]);
            at++;
            var arguments = LiteralCalls.Arguments(text, ref at, gemma: false, out var status);
            if (arguments is null)
            {
                return status == LiteralStatus.Incomplete ? Incomplete(final) : FormatParse.NotMine;
            }

            parsed.Add((name, arguments));
            at = JsonText.SkipWhitespace(text, at);
            if (at == text.Length)
            {
                return Incomplete(final);
            }

            if (text[at] == (byte)']')
            {
                break;
            }

            if (text[at] != (byte)',')
            {
                return FormatParse.NotMine;
            }

            at++;
        }

        foreach (var (name, arguments) in parsed)
        {
            if (calls.AddWritten(name, arguments) is { } refused)
            {
                return FormatParse.Refuse(refused);
            }
        }

        return FormatParse.Done(at + 1);
    }

    private static FormatParse Incomplete(bool final) => final ? FormatParse.NotMine : FormatParse.NeedMore;
}
