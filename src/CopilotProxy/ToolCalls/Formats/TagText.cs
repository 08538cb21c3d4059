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
    /// <remarks>
    /// At the end of an answer that stopped on its own (<paramref name="final"/>), a missing <paramref name="close"/> is
    /// forgiven when every call is closed: the section's end is often a special token that LM Studio drops as a stop
    /// token, and llama.cpp's parsers take such an ending too. With <paramref name="jsonBodies"/> the last call's own
    /// <paramref name="callClose"/> may be missing as well, since its reader refuses arguments that are not one whole JSON
    /// object: a call cut off mid-arguments is still refused (as unclosed), never sent with half its arguments.
    /// </remarks>
    public static FormatParse ReadSection(ReadOnlySpan<byte> text, bool final, ParsedCalls calls, ReadOnlySpan<byte> open, ReadOnlySpan<byte> close,
        ReadOnlySpan<byte> callOpen, ReadOnlySpan<byte> callClose, CallReader read, bool jsonBodies = false)
    {
        var end = Find(text, open.Length, close);
        var closed = end >= 0;
        if (!closed && !final)
        {
            return FormatParse.NeedMore;
        }

        var inner = closed ? text[..end] : text;
        var at = open.Length;
        var any = false;
        while (!AtEnd(inner, at))
        {
            var unclosedCall = false;
            if (!TryTake(inner, ref at, callOpen, callClose, out var call))
            {
                if (closed || !jsonBodies || !TryTakeRest(inner, ref at, callOpen, out call))
                {
                    return closed ? Malformed() : FormatParse.Open(final);
                }

                unclosedCall = true;
            }

            if (read(call, calls) is { } failed)
            {
                // An unclosed call whose body does not read whole was cut off, which says more than "invalid".
                return unclosedCall ? FormatParse.Open(final) : failed;
            }

            any = true;
        }

        if (!any)
        {
            return closed ? Malformed() : FormatParse.Open(final);
        }

        return FormatParse.Done(closed ? end + close.Length : text.Length);
    }

    /// <summary>Everything after <paramref name="open"/> at <paramref name="at"/> (after whitespace), when no closing tag follows.</summary>
    private static bool TryTakeRest(ReadOnlySpan<byte> text, ref int at, ReadOnlySpan<byte> open, out ReadOnlySpan<byte> inner)
    {
        inner = default;
        var start = JsonText.SkipWhitespace(text, at);
        if (JsonText.Matches(text, start, open) != 1)
        {
            return false;
        }

        inner = text[(start + open.Length)..];
        at = text.Length;
        return true;
    }

    /// <summary>True when only whitespace is left from <paramref name="at"/>.</summary>
    public static bool AtEnd(ReadOnlySpan<byte> text, int at) => JsonText.SkipWhitespace(text, at) == text.Length;

    /// <summary>The template's way to refuse a block whose inside does not have the format's shape.</summary>
    public static FormatParse Malformed(string? name = null) => FormatParse.Refuse(ToolCallRepairRejection.InvalidJson, name);
}
