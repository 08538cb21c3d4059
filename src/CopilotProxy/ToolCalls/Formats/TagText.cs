using System.Text;

namespace CopilotProxy.ToolCalls.Formats;

/// <summary>Reading the tag-delimited pieces of XML-like and special-token formats out of held UTF-8 text.</summary>
internal static class TagText
{
    /// <summary>The index of <paramref name="tag"/> at or after <paramref name="from"/>, or -1.</summary>
    public static int Find(ReadOnlySpan<byte> text, int from, ReadOnlySpan<byte> tag)
    {
        if (from > text.Length)
        {
            return -1;
        }

        var found = text[from..].IndexOf(tag);
        return found < 0 ? -1 : from + found;
    }

    /// <summary>
    /// The text between <paramref name="open"/> at <paramref name="at"/> (after whitespace) and the next <paramref name="close"/>;
    /// false when it is not there. <paramref name="at"/> moves past the closing tag.
    /// </summary>
    public static bool TryTake(ReadOnlySpan<byte> text, ref int at, ReadOnlySpan<byte> open, ReadOnlySpan<byte> close, out ReadOnlySpan<byte> inner)
    {
        inner = default;
        var start = JsonText.SkipWhitespace(text, at);
        if (JsonText.Matches(text, start, open) != 1)
        {
            return false;
        }

        var end = Find(text, start + open.Length, close);
        if (end < 0)
        {
            return false;
        }

        inner = text[(start + open.Length)..end];
        at = end + close.Length;
        return true;
    }

    public static string Utf8(ReadOnlySpan<byte> text) => Encoding.UTF8.GetString(text);

    /// <summary>Reads one call's inside (between its open and close tags) into <paramref name="calls"/>; null when it was added.</summary>
    public delegate FormatParse? CallReader(ReadOnlySpan<byte> call, ParsedCalls calls);

    /// <summary>
    /// A section of calls: <paramref name="open"/>, one or more <paramref name="callOpen"/>…<paramref name="callClose"/>
    /// elements (whitespace between them), <paramref name="close"/>. Shared by DeepSeek, Kimi K2 and MiniMax-M2.
    /// </summary>
    public static FormatParse ReadSection(ReadOnlySpan<byte> text, bool final, ParsedCalls calls, ReadOnlySpan<byte> open, ReadOnlySpan<byte> close,
        ReadOnlySpan<byte> callOpen, ReadOnlySpan<byte> callClose, CallReader read)
    {
        var end = Find(text, open.Length, close);
        if (end < 0)
        {
            return FormatParse.Open(final);
        }

        var inner = text[..end];
        var at = open.Length;
        var any = false;
        while (!AtEnd(inner, at))
        {
            if (!TryTake(inner, ref at, callOpen, callClose, out var call))
            {
                return Malformed();
            }

            if (read(call, calls) is { } failed)
            {
                return failed;
            }

            any = true;
        }

        return any ? FormatParse.Done(end + close.Length) : Malformed();
    }

    /// <summary>True when only whitespace is left from <paramref name="at"/>.</summary>
    public static bool AtEnd(ReadOnlySpan<byte> text, int at) => JsonText.SkipWhitespace(text, at) == text.Length;

    /// <summary>The template's way to refuse a block whose inside does not have the format's shape.</summary>
    public static FormatParse Malformed(string? name = null) => FormatParse.Refuse(ToolCallRepairRejection.InvalidJson, name);
}
