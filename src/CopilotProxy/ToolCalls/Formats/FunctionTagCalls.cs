namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// The inside shared by Qwen3-Coder and Seed-OSS: <c>&lt;function=NAME&gt;&lt;parameter=KEY&gt;\nVALUE\n&lt;/parameter&gt;…&lt;/function&gt;</c>,
/// one or more functions, values typed by the tool's schema.
/// </summary>
internal static class FunctionTagCalls
{
    private static ReadOnlySpan<byte> Function => "<function="u8;
    private static ReadOnlySpan<byte> FunctionEnd => "</function>"u8;
    private static ReadOnlySpan<byte> Parameter => "<parameter="u8;
    private static ReadOnlySpan<byte> ParameterEnd => "</parameter>"u8;

    public static FormatParse Parse(ReadOnlySpan<byte> text, ReadOnlySpan<byte> open, ReadOnlySpan<byte> close, bool final, ParsedCalls calls)
    {
        var first = JsonText.SkipWhitespace(text, open.Length);
        switch (JsonText.Matches(text, first, Function))
        {
            case -1:
                return FormatParse.NotMine;
            case 0:
                return FormatParse.Open(final);
        }

        // At the end of an answer that stopped on its own, the closing tag may be missing (LM Studio can drop it as a stop
        // token; llama.cpp's parsers take such an ending): every function must still be closed, so a call cut off inside
        // a value is refused as unclosed rather than sent with half its arguments.
        var end = TagText.Find(text, first, close);
        var closed = end >= 0;
        if (!closed && !final)
        {
            return FormatParse.NeedMore;
        }

        var inner = closed ? text[..end] : text;
        var at = first;
        while (!TagText.AtEnd(inner, at))
        {
            if (!TagText.TryTake(inner, ref at, Function, FunctionEnd, out var function))
            {
                return closed ? TagText.Malformed() : FormatParse.Open(final);
            }

            var nameEnd = function.IndexOf((byte)'>');
            if (nameEnd < 0)
            {
                return TagText.Malformed();
            }

            var name = TagText.Utf8(function[..nameEnd].Trim(" \t\r\n"u8));
            var arguments = new List<(string, string)>();
            var p = nameEnd + 1;
            while (!TagText.AtEnd(function, p))
            {
                if (!TagText.TryTake(function, ref p, Parameter, ParameterEnd, out var parameter) || parameter.IndexOf((byte)'>') is var keyEnd && keyEnd < 0)
                {
                    return TagText.Malformed(name);
                }

                arguments.Add((TagText.Utf8(parameter[..keyEnd].Trim(" \t\r\n"u8)), TagText.Utf8(parameter[(keyEnd + 1)..])));
            }

            if (calls.AddTyped(name, arguments) is { } refused)
            {
                return FormatParse.Refuse(refused);
            }
        }

        return FormatParse.Done(closed ? end + close.Length : text.Length);
    }
}
