using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using CopilotProxy.Buffers;

namespace CopilotProxy.Upstream;

/// <summary>
/// JSON from outside the process (upstream events and answers, client bodies) with its strings checked when it is parsed:
/// valid UTF-8, and no half surrogate pairs.
/// </summary>
/// <remarks>
/// System.Text.Json parses <c>"\ud800"</c> (half of a UTF-16 surrogate pair) without complaint and throws
/// <see cref="InvalidOperationException"/> later, from whichever property lookup or comparison first unescapes it. Found by
/// fuzzing: one such name in an upstream event killed the stream, and in a client body it answered 500. Checking at parse
/// time turns it into the <see cref="JsonException"/> every reader already handles (an unreadable event, a 400). Invalid
/// UTF-8 inside a string is the same story (the reader checks structure only). The check costs two vectorised passes on
/// ordinary JSON (UTF-8 validity, a search for <c>\u</c>); only text with a surrogate escape is walked.
/// </remarks>
public static class StrictJson
{
    /// <summary>Throws <see cref="JsonException"/> when the text is not UTF-8, or a string or property name holds an unpaired surrogate escape.</summary>
    public static void Validate(ReadOnlySpan<byte> json)
    {
        // The reader checks structure, not the bytes inside strings; GetString would throw on them later.
        if (!Utf8.IsValid(json))
        {
            throw new JsonException("The JSON text is not valid UTF-8.");
        }

        if (HasSurrogateEscape(json))
        {
            Walk(new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 }));
        }
    }

    /// <summary>Parses one value and validates its strings; the caller owns the document.</summary>
    public static JsonDocument Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var document = JsonDocument.ParseValue(ref reader);
        try
        {
            Validate(json[..(int)reader.BytesConsumed]);
        }
        catch
        {
            document.Dispose();
            throw;
        }

        return document;
    }

    /// <summary>Parses text the proxy holds as a string (a model's answer, a tool call's arguments) like <see cref="Parse(ReadOnlySpan{byte})"/>.</summary>
    public static JsonDocument Parse(string json) => Parse(System.Text.Encoding.UTF8.GetBytes(json));

    /// <summary>
    /// True when the text holds a <c>\uD800</c>–<c>\uDFFF</c> escape, paired or not: the cheap test that lets ordinary JSON
    /// (and the relay's fast path) skip the walk.
    /// </summary>
    public static bool HasSurrogateEscape(ReadOnlySpan<byte> json)
    {
        var start = 0;
        while (true)
        {
            var at = json[start..].IndexOf("\\u"u8);
            if (at < 0)
            {
                return false;
            }

            var hex = start + at + 2;
            if (hex + 1 < json.Length && json[hex] is (byte)'d' or (byte)'D' && json[hex + 1] is >= (byte)'8' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F')
            {
                return true;
            }

            start = hex;
        }
    }

    private static void Walk(Utf8JsonReader reader)
    {
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                try
                {
                    var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
                    var rented = ArrayPool<char>.Shared.Rent((int)length);
                    try
                    {
                        _ = reader.CopyString(rented);
                    }
                    finally
                    {
                        SharedPool.Return(rented);
                    }
                }
                catch (InvalidOperationException)
                {
                    throw new JsonException($"The string at byte {reader.TokenStartIndex} has a \\u escape that is half of a UTF-16 surrogate pair.");
                }
            }
        }
    }

    /// <summary>
    /// Refuses a number too large for a double (<c>1e999</c>): the serializer reads it as infinity, which no JSON writer can
    /// write back, so a client's <c>"temperature": 1e999</c> would fail only when the upstream request is written.
    /// </summary>
    public sealed class FiniteDoubleConverter : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var value) && double.IsFinite(value)
                ? value
                : throw new JsonException("Expected a finite number.");

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    /// <summary>
    /// Validates every <see cref="JsonElement"/> a source-generated context reads (the fields of a client's request that
    /// take several shapes); the serializer already checks the strings it decodes itself.
    /// </summary>
    public sealed class ElementConverter : JsonConverter<JsonElement>
    {
        public override JsonElement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var element = JsonElement.ParseValue(ref reader);
            Validate(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element));
            return element;
        }

        public override void Write(Utf8JsonWriter writer, JsonElement value, JsonSerializerOptions options) => value.WriteTo(writer);
    }
}
