using System.Buffers;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>The events <see cref="ResponsesReasoning"/> writes: the reasoning item's own, and the upstream's moved or with the answer text.</summary>
public sealed partial class ResponsesReasoning
{
    /// <summary>A new reasoning item's id, in OpenAI's shape.</summary>
    internal static string NewReasoningId() => "rs_" + Guid.NewGuid().ToString("N")[..24];

    /// <summary>An id for a message item the proxy adds (the answer text after a later thought), in OpenAI's shape.</summary>
    internal static string NewMessageId() => "msg_" + Guid.NewGuid().ToString("N")[..24];

    /// <summary>A <c>reasoning</c> output item with one <c>reasoning_text</c> part once completed: streamed or whole, the same item.</summary>
    internal static void WriteReasoningItem(Utf8JsonWriter writer, string id, ReadOnlySpan<byte> status, ReadOnlySpan<byte> text)
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, id);
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

    private static void WritePart(Utf8JsonWriter writer, ReadOnlySpan<byte> type, ReadOnlySpan<byte> text)
    {
        writer.WritePropertyName("part"u8);
        if (type.SequenceEqual("output_text"u8))
        {
            WriteOutputText(writer, text);
            return;
        }

        writer.WriteStartObject();
        writer.WriteString("type"u8, type);
        writer.WriteString("text"u8, text);
        writer.WriteEndObject();
    }

    /// <summary>A message's <c>output_text</c> part as OpenAI writes it, whose <c>annotations</c> the SDKs expect even when empty.</summary>
    internal static void WriteOutputText(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        writer.WriteStartObject();
        writer.WriteString("type"u8, "output_text"u8);
        writer.WriteString("text"u8, text);
        writer.WriteStartArray("annotations"u8);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The reasoning item ends: its text, part and item done events; the item is kept for the final output.</summary>
    private void CloseReasoning()
    {
        _events.Add(Event("response.reasoning_text.done", writer =>
        {
            writer.WriteString("item_id"u8, _reasoningId);
            writer.WriteNumber("content_index"u8, 0);
            writer.WriteString("text"u8, _reasoning.WrittenSpan);
        }));
        _events.Add(Event("response.content_part.done", writer =>
        {
            writer.WriteString("item_id"u8, _reasoningId);
            writer.WriteNumber("content_index"u8, 0);
            WritePart(writer, "reasoning_text"u8, _reasoning.WrittenSpan);
        }));
        Close(writer => WriteReasoningItem(writer, _reasoningId, "completed"u8, _reasoning.WrittenSpan));
    }

    /// <summary>
    /// A message ends because reasoning follows it: the proxy writes the done events the upstream writes only for its
    /// message's end, from the held announcements, with this message's text.
    /// </summary>
    private void CloseMessage()
    {
        var id = _itemId ?? _messageId ?? "";
        _events.Add(Event("response.output_text.done", writer =>
        {
            writer.WriteString("item_id"u8, id);
            writer.WriteNumber("content_index"u8, Math.Max(_contentIndex, 0));
            writer.WriteString("text"u8, _text.WrittenSpan);
        }));
        _events.Add(Event("response.content_part.done", writer =>
        {
            writer.WriteString("item_id"u8, id);
            writer.WriteNumber("content_index"u8, Math.Max(_contentIndex, 0));
            WritePart(writer, "output_text"u8, _text.WrittenSpan);
        }));
        Close(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("id"u8, id);
            writer.WriteString("type"u8, "message"u8);
            writer.WriteString("status"u8, "completed"u8);
            writer.WriteString("role"u8, "assistant"u8);
            writer.WriteStartArray("content"u8);
            WriteOutputText(writer, _text.WrittenSpan);
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    /// <summary>The output_item.done of an item the proxy closes, and the same item for the final event's output.</summary>
    private void Close(Action<Utf8JsonWriter> item)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            item(writer);
        }

        var written = buffer.WrittenSpan.ToArray();
        _closed.Add(written);
        _events.Add(Event("response.output_item.done", writer =>
        {
            writer.WritePropertyName("item"u8);
            writer.WriteRawValue(written, skipInputValidation: true);
        }));
    }

    /// <summary>An event of an item the proxy writes, at the current item's index (the relay renumbers its sequence).</summary>
    private byte[] Event(string type, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            writer.WriteNumber("sequence_number"u8, 0);
            writer.WriteNumber("output_index"u8, Current);
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The upstream's event at <paramref name="index"/>; with <paramref name="replace"/>, its <c>delta</c> is
    /// <paramref name="text"/> and its <c>text</c> (also inside <c>part</c> and <c>item</c>) is the answer text so far. A
    /// message event of a message after the first carries that message's id.
    /// </summary>
    private byte[] Rewritten(JsonElement root, int index, bool replace, ReadOnlySpan<byte> text = default)
    {
        var id = index == Current && _open == Item.Message ? _itemId : null;
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
                else if (id is not null && property.NameEquals("item_id"u8))
                {
                    writer.WriteString("item_id"u8, id);
                }
                else if (replace && property.NameEquals("delta"u8))
                {
                    writer.WriteString("delta"u8, text);
                }
                else if (replace && property.NameEquals("text"u8) && property.Value.ValueKind == JsonValueKind.String)
                {
                    writer.WriteString("text"u8, _text.WrittenSpan);
                }
                else if ((replace || id is not null) && (property.NameEquals("part"u8) || property.NameEquals("item"u8)) && property.Value.ValueKind == JsonValueKind.Object)
                {
                    writer.WritePropertyName(property.Name);
                    EventStreamRelay.WriteWithText(property.Value, writer, _text.WrittenSpan, id);
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

    /// <summary>
    /// The final event with its <c>output</c> as streamed: in the message's place the items the proxy closed, then the
    /// message still open at the end (the upstream's, with its answer text).
    /// </summary>
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

                        foreach (var closed in _closed)
                        {
                            writer.WriteRawValue(closed, skipInputValidation: true);
                        }

                        if (_open == Item.Message && item.ValueKind == JsonValueKind.Object)
                        {
                            EventStreamRelay.WriteWithText(item, writer, _text.WrittenSpan, _itemId);
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
