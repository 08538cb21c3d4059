using System.Buffers;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>The events <see cref="ResponsesReasoning"/> writes: the reasoning item's own, and the upstream's moved or with the answer text.</summary>
public sealed partial class ResponsesReasoning
{
    private void WriteReasoningItem(Utf8JsonWriter writer, ReadOnlySpan<byte> status, ReadOnlySpan<byte> text)
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, _reasoningId);
        writer.WriteString("type"u8, "reasoning"u8);
        writer.WriteString("status"u8, status);
        writer.WriteStartArray("summary"u8);
        writer.WriteEndArray();
        writer.WriteStartArray("content"u8);
        if (status.SequenceEqual("completed"u8))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "reasoning_text"u8);
            writer.WriteString("text"u8, text);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WritePart(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        writer.WriteStartObject("part"u8);
        writer.WriteString("type"u8, "reasoning_text"u8);
        writer.WriteString("text"u8, text);
        writer.WriteEndObject();
    }

    /// <summary>An event of the reasoning item, at the message's old index (the relay renumbers its sequence).</summary>
    private byte[] Event(string type, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            writer.WriteNumber("sequence_number"u8, 0);
            writer.WriteNumber("output_index"u8, _index);
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The upstream's event at <paramref name="index"/>; with <paramref name="replace"/>, its <c>delta</c> is
    /// <paramref name="text"/> and its <c>text</c> (also inside <c>part</c> and <c>item</c>) is the answer text so far.
    /// </summary>
    private byte[] Rewritten(JsonElement root, int index, bool replace, ReadOnlySpan<byte> text = default)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals("output_index"u8))
                {
                    writer.WriteNumber("output_index"u8, index);
                }
                else if (replace && property.NameEquals("delta"u8))
                {
                    writer.WriteString("delta"u8, text);
                }
                else if (replace && property.NameEquals("text"u8) && property.Value.ValueKind == JsonValueKind.String)
                {
                    writer.WriteString("text"u8, _text.WrittenSpan);
                }
                else if (replace && (property.NameEquals("part"u8) || property.NameEquals("item"u8)) && property.Value.ValueKind == JsonValueKind.Object)
                {
                    writer.WritePropertyName(property.Name);
                    EventStreamRelay.WriteWithText(property.Value, writer, _text.WrittenSpan);
                }
                else
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The final event with its <c>output</c> as streamed: the reasoning item in the message's place, then the message with the answer text.</summary>
    private byte[] WithOutput(JsonElement root)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (!property.NameEquals("response"u8) || property.Value.ValueKind != JsonValueKind.Object)
                {
                    property.WriteTo(writer);
                    continue;
                }

                writer.WriteStartObject("response"u8);
                foreach (var field in property.Value.EnumerateObject())
                {
                    if (!field.NameEquals("output"u8) || field.Value.ValueKind != JsonValueKind.Array)
                    {
                        field.WriteTo(writer);
                        continue;
                    }

                    writer.WriteStartArray("output"u8);
                    var position = 0;
                    foreach (var item in field.Value.EnumerateArray())
                    {
                        var isMessage = _messageId is not null
                            ? item.TryGetMember("id"u8, out var id) && id.ValueKind == JsonValueKind.String && id.ValueEquals(_messageId)
                            : position == _index;
                        position++;
                        if (!isMessage)
                        {
                            item.WriteTo(writer);
                            continue;
                        }

                        WriteReasoningItem(writer, "completed"u8, _reasoning.WrittenSpan);
                        if (_textStarted && item.ValueKind == JsonValueKind.Object)
                        {
                            EventStreamRelay.WriteWithText(item, writer, _text.WrittenSpan);
                        }
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
