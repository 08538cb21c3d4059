using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CopilotProxy.ToolCalls.Formats;

/// <summary>How far a literal could be read.</summary>
internal enum LiteralStatus
{
    Ok,
    /// <summary>The text ends inside the literal: more may complete it.</summary>
    Incomplete,
    Invalid,
}

/// <summary>
/// Reads the argument literals of Python calls (<c>'text'</c>, <c>"text"</c>, <c>True</c>, <c>None</c>, numbers, lists,
/// tuples, dicts) and of Gemma 4's calls (<c>&lt;|"|&gt;text&lt;|"|&gt;</c> strings, bare keys) and writes them as JSON.
/// </summary>
internal ref struct LiteralReader
{
    private static ReadOnlySpan<byte> GemmaQuote => "<|\"|>"u8;

    private readonly ReadOnlySpan<byte> _text;
    private readonly bool _gemma;
    private readonly Utf8JsonWriter _writer;

    public LiteralReader(ReadOnlySpan<byte> text, int at, bool gemma, Utf8JsonWriter writer)
    {
        _text = text;
        Position = at;
        _gemma = gemma;
        _writer = writer;
    }

    public int Position { get; private set; }

    public readonly bool AtEnd => Position >= _text.Length;

    public readonly byte Current => _text[Position];

    public void SkipWhitespace() => Position = JsonText.SkipWhitespace(_text, Position);

    /// <summary>An identifier (a name or a keyword argument); empty when none starts here.</summary>
    public ReadOnlySpan<byte> Identifier()
    {
        var start = Position;
        while (Position < _text.Length && (char.IsAsciiLetterOrDigit((char)_text[Position]) || _text[Position] is (byte)'_' or (byte)'-' or (byte)'.'))
        {
            Position++;
        }

        return _text[start..Position];
    }

    /// <summary>Reads one value and writes it as JSON.</summary>
    public LiteralStatus Value()
    {
        SkipWhitespace();
        if (AtEnd)
        {
            return LiteralStatus.Incomplete;
        }

        var b = Current;
        if (_gemma && JsonText.Matches(_text, Position, GemmaQuote) is var quoted && quoted >= 0)
        {
            return quoted == 0 ? LiteralStatus.Incomplete : GemmaString();
        }

        return b switch
        {
            (byte)'\'' or (byte)'"' when !_gemma || b == (byte)'"' => QuotedString(b),
            (byte)'[' => Sequence((byte)']', array: true),
            (byte)'(' when !_gemma => Sequence((byte)')', array: true),
            (byte)'{' => Sequence((byte)'}', array: false),
            _ => Scalar(),
        };
    }

    private LiteralStatus Sequence(byte close, bool array)
    {
        Position++;
        if (array)
        {
            _writer.WriteStartArray();
        }
        else
        {
            _writer.WriteStartObject();
        }

        while (true)
        {
            SkipWhitespace();
            if (AtEnd)
            {
                return LiteralStatus.Incomplete;
            }

            if (Current == close)
            {
                Position++;
                if (array)
                {
                    _writer.WriteEndArray();
                }
                else
                {
                    _writer.WriteEndObject();
                }

                return LiteralStatus.Ok;
            }

            if (!array && Key() is var key and not LiteralStatus.Ok)
            {
                return key;
            }

            if (Value() is var value and not LiteralStatus.Ok)
            {
                return value;
            }

            SkipWhitespace();
            if (AtEnd)
            {
                return LiteralStatus.Incomplete;
            }

            if (Current == (byte)',')
            {
                Position++;
            }
            else if (Current != close)
            {
                return LiteralStatus.Invalid;
            }
        }
    }

    /// <summary>A dict key and its colon: quoted (Python, Gemma) or bare (Gemma).</summary>
    private LiteralStatus Key()
    {
        SkipWhitespace();
        if (AtEnd)
        {
            return LiteralStatus.Incomplete;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var keyWriter = new Utf8JsonWriter(buffer))
        {
            var inner = new LiteralReader(_text, Position, _gemma, keyWriter);
            var status = Current is (byte)'\'' or (byte)'"' || (_gemma && Current == (byte)'<') ? inner.Value() : BareKey(ref inner, keyWriter);
            if (status != LiteralStatus.Ok)
            {
                return status;
            }

            Position = inner.Position;
        }

        var key = buffer.WrittenSpan;
        if (key.Length < 2 || key[0] != (byte)'"')
        {
            return LiteralStatus.Invalid;
        }

        SkipWhitespace();
        if (AtEnd)
        {
            return LiteralStatus.Incomplete;
        }

        if (Current != (byte)':')
        {
            return LiteralStatus.Invalid;
        }

        Position++;
        var name = JsonDocument.Parse(key.ToArray()).RootElement.GetString()!;
        _writer.WritePropertyName(name);
        return LiteralStatus.Ok;
    }

    private static LiteralStatus BareKey(ref LiteralReader inner, Utf8JsonWriter writer)
    {
        var name = inner.Identifier();
        if (inner.AtEnd)
        {
            return LiteralStatus.Incomplete;
        }

        if (name.IsEmpty)
        {
            return LiteralStatus.Invalid;
        }

        writer.WriteStringValue(name);
        return LiteralStatus.Ok;
    }

    private LiteralStatus GemmaString()
    {
        var start = Position + GemmaQuote.Length;
        var end = TagText.Find(_text, start, GemmaQuote);
        if (end < 0)
        {
            return LiteralStatus.Incomplete;
        }

        _writer.WriteStringValue(_text[start..end]);
        Position = end + GemmaQuote.Length;
        return LiteralStatus.Ok;
    }

    private LiteralStatus QuotedString(byte quote)
    {
        var value = new StringBuilder();
        var at = Position + 1;
        while (at < _text.Length)
        {
            var b = _text[at];
            if (b == quote)
            {
                _writer.WriteStringValue(value.ToString());
                Position = at + 1;
                return LiteralStatus.Ok;
            }

            if (b != (byte)'\\')
            {
                var run = _text[at..].IndexOfAny(quote, (byte)'\\');
                var length = run < 0 ? _text.Length - at : run;
                value.Append(Encoding.UTF8.GetString(_text.Slice(at, length)));
                at += length;
                continue;
            }

            if (at + 1 >= _text.Length)
            {
                return LiteralStatus.Incomplete;
            }

            var escaped = _text[at + 1];
            at += 2;
            switch (escaped)
            {
                case (byte)'n': value.Append('\n'); break;
                case (byte)'t': value.Append('\t'); break;
                case (byte)'r': value.Append('\r'); break;
                case (byte)'0': value.Append('\0'); break;
                case (byte)'u' or (byte)'x':
                    var digits = escaped == (byte)'u' ? 4 : 2;
                    if (at + digits > _text.Length)
                    {
                        return LiteralStatus.Incomplete;
                    }

                    if (!int.TryParse(_text.Slice(at, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                    {
                        return LiteralStatus.Invalid;
                    }

                    value.Append((char)code);
                    at += digits;
                    break;
                default:
                    // \\, \', \" and anything else stand for the character itself.
                    value.Append((char)escaped);
                    break;
            }
        }

        return LiteralStatus.Incomplete;
    }

    private LiteralStatus Scalar()
    {
        var start = Position;
        while (Position < _text.Length && _text[Position] is not ((byte)',' or (byte)')' or (byte)']' or (byte)'}' or (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r'))
        {
            Position++;
        }

        if (AtEnd)
        {
            return LiteralStatus.Incomplete;
        }

        var word = _text[start..Position];
        if (word.SequenceEqual("True"u8) || word.SequenceEqual("true"u8))
        {
            _writer.WriteBooleanValue(true);
        }
        else if (word.SequenceEqual("False"u8) || word.SequenceEqual("false"u8))
        {
            _writer.WriteBooleanValue(false);
        }
        else if (word.SequenceEqual("None"u8) || word.SequenceEqual("null"u8))
        {
            _writer.WriteNullValue();
        }
        else if (long.TryParse(word, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            _writer.WriteNumberValue(integer);
        }
        else if (double.TryParse(word, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            _writer.WriteNumberValue(number);
        }
        else
        {
            return LiteralStatus.Invalid;
        }

        return LiteralStatus.Ok;
    }
}
