using System.Buffers;
using System.Text.Json;

namespace CopilotProxy.ToolCalls.Formats;

/// <summary>Reads the arguments of one literal-syntax call (Python's <c>name(k=v, …)</c>, Gemma's <c>name{k:v,…}</c>) into a JSON object.</summary>
internal static class LiteralCalls
{
    /// <summary>Reads the arguments from <paramref name="at"/> (just past the opening bracket) to the closing one.</summary>
    /// <returns>The JSON object, or null with the status when it is incomplete or invalid; <paramref name="at"/> moves past the closing bracket.</returns>
    public static byte[]? Arguments(ReadOnlySpan<byte> text, ref int at, bool gemma, out LiteralStatus status)
    {
        var close = gemma ? (byte)'}' : (byte)')';
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            using var writer = new Utf8JsonWriter(buffer);
            var reader = new LiteralReader(text, at, gemma, writer);
            writer.WriteStartObject();
            while (true)
            {
                reader.SkipWhitespace();
                if (reader.AtEnd)
                {
                    status = LiteralStatus.Incomplete;
                    return null;
                }

                if (reader.Current == close)
                {
                    writer.WriteEndObject();
                    writer.Flush();
                    at = reader.Position + 1;
                    status = LiteralStatus.Ok;
                    return buffer.WrittenSpan.ToArray();
                }

                var key = reader.Identifier();
                reader.SkipWhitespace();
                if (reader.AtEnd)
                {
                    status = LiteralStatus.Incomplete;
                    return null;
                }

                if (key.IsEmpty || reader.Current != (gemma ? (byte)':' : (byte)'='))
                {
                    status = LiteralStatus.Invalid;
                    return null;
                }

                writer.WritePropertyName(key);
                reader = new LiteralReader(text, reader.Position + 1, gemma, writer);
                if (reader.Value() is var value and not LiteralStatus.Ok)
                {
                    status = value;
                    return null;
                }

                reader.SkipWhitespace();
                if (!reader.AtEnd && reader.Current == (byte)',')
                {
                    reader = new LiteralReader(text, reader.Position + 1, gemma, writer);
                }
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or JsonException)
        {
            // Text the JSON writer refuses (invalid UTF-8, a lone surrogate, nesting too deep) is no call.
            status = LiteralStatus.Invalid;
            return null;
        }
    }
}
