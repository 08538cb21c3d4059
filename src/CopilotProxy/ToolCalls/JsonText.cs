using System.Text.Json;

namespace CopilotProxy.ToolCalls;

/// <summary>Where one JSON value ends in text that may still be growing, without parsing it into a document.</summary>
public static class JsonText
{
    /// <summary>
    /// The length of the JSON value at the start of <paramref name="text"/> (leading whitespace included), or -1 while it
    /// is incomplete. <paramref name="invalid"/> is true when the text can never become one (a syntax error).
    /// </summary>
    /// <remarks>A number at the top level is complete only when something follows it, as with any streamed JSON.</remarks>
    public static int ValueLength(ReadOnlySpan<byte> text, out bool invalid)
    {
        invalid = false;
        var reader = new Utf8JsonReader(text, isFinalBlock: false, default);
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth == 0 && reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
                {
                    return (int)reader.BytesConsumed;
                }
            }
        }
        catch (JsonException)
        {
            invalid = true;
        }

        return -1;
    }

    /// <summary>The index after the whitespace at <paramref name="at"/>.</summary>
    public static int SkipWhitespace(ReadOnlySpan<byte> text, int at)
    {
        while (at < text.Length && text[at] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            at++;
        }

        return at;
    }

    /// <summary>
    /// Whether <paramref name="text"/> at <paramref name="at"/> is <paramref name="literal"/>: 1 yes, 0 not yet known
    /// (the text ends inside a prefix of it), -1 no.
    /// </summary>
    public static int Matches(ReadOnlySpan<byte> text, int at, ReadOnlySpan<byte> literal)
    {
        var available = Math.Min(literal.Length, text.Length - at);
        if (available < 0 || !text.Slice(at, available).SequenceEqual(literal[..available]))
        {
            return -1;
        }

        return available == literal.Length ? 1 : 0;
    }
}
