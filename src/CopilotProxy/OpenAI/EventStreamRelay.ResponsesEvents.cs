using System.Text.Json;
using CopilotProxy.ToolCalls;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The events a repaired Responses stream writes: upstream events renumbered (and their text or output rewritten), and
/// the <c>function_call</c> items that replace a call written as text.
/// </summary>
public sealed partial class EventStreamRelay
{
    /// <summary>One repaired call as a function_call item: added, its arguments in one delta, their end, the item's end.</summary>
    private void WriteCallEvents(RepairedToolCall call, int index)
    {
        var itemId = EventApiRepair.FunctionCallItemId(call);
        foreach (var type in (ReadOnlySpan<string>)["response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done"])
        {
            using var writer = Begin(type);
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            writer.WriteNumber("sequence_number"u8, _nextSequence++);
            writer.WriteNumber("output_index"u8, index);
            switch (type)
            {
                case "response.output_item.added" or "response.output_item.done":
                    writer.WritePropertyName("item"u8);
                    EventApiRepair.WriteFunctionCall(writer, call, completed: type == "response.output_item.done");
                    break;
                case "response.function_call_arguments.delta":
                    writer.WriteString("item_id"u8, itemId);
                    writer.WriteString("delta"u8, call.Arguments);
                    break;
                default:
                    writer.WriteString("item_id"u8, itemId);
                    writer.WriteString("name"u8, call.Name);
                    writer.WriteString("arguments"u8, call.Arguments);
                    break;
            }

            writer.WriteEndObject();
            writer.Flush();
            End();
        }
    }

    /// <summary>
    /// Writes an event with the next sequence number, later items' <c>output_index</c> moved past the repaired calls, the
    /// model renamed, <c>output</c> rewritten once calls were repaired, and the text replaced where <paramref name="replace"/> says.
    /// </summary>
    private void WriteResponseEvent(string? type, JsonElement root, Replace replace, ReadOnlySpan<byte> text)
    {
        using var writer = Begin(type);
        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("sequence_number"u8) && property.Value.ValueKind == JsonValueKind.Number)
            {
                writer.WriteNumber("sequence_number"u8, _nextSequence++);
            }
            else if (property.NameEquals("output_index"u8) && _indexShift != 0 && property.Value.ValueKind == JsonValueKind.Number
                && property.Value.TryGetInt32(out var index) && index > _messageIndex)
            {
                writer.WriteNumber("output_index"u8, index + _indexShift);
            }
            else if (property.NameEquals("model"u8) && property.Value.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("model"u8, clientModel);
            }
            else if (property.NameEquals("response"u8) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName("response"u8);
                WriteResponseObject(property.Value, writer);
            }
            else if (replace == Replace.Delta && property.NameEquals("delta"u8))
            {
                writer.WriteString("delta"u8, text);
            }
            else if (replace == Replace.Text && property.NameEquals("text"u8))
            {
                writer.WriteString("text"u8, text);
            }
            else if (replace == Replace.Text && (property.NameEquals("part"u8) || property.NameEquals("item"u8)) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName(property.Name);
                WriteWithText(property.Value, writer, text);
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
        writer.Flush();
        End();
    }

    /// <summary>A response object: the model renamed, and its <c>output</c> as the client got it once calls were repaired.</summary>
    private void WriteResponseObject(JsonElement response, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var property in response.EnumerateObject())
        {
            if (property.NameEquals("model"u8) && property.Value.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("model"u8, clientModel);
            }
            else if (property.NameEquals("output"u8) && property.Value.ValueKind == JsonValueKind.Array && _responseCalls.Count > 0)
            {
                writer.WriteStartArray("output"u8);
                var position = 0;
                foreach (var item in property.Value.EnumerateArray())
                {
                    var isMessage = _messageId is not null
                        ? item.ValueKind == JsonValueKind.Object && item.TryGetProperty("id"u8, out var id) && id.ValueKind == JsonValueKind.String && id.ValueEquals(_messageId)
                        : position == _messageIndex;
                    position++;
                    if (!isMessage)
                    {
                        item.WriteTo(writer);
                        continue;
                    }

                    if (_messageStarted && item.ValueKind == JsonValueKind.Object)
                    {
                        WriteWithText(item, writer, _releasedText);
                    }
                    else if (_messageStarted)
                    {
                        item.WriteTo(writer);
                    }

                    foreach (var call in _responseCalls)
                    {
                        EventApiRepair.WriteFunctionCall(writer, call);
                    }
                }

                writer.WriteEndArray();
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>An output_text part, or a message item whose parts are, with the text replaced by <paramref name="text"/> (and the item's id by <paramref name="id"/>, when set).</summary>
    internal static void WriteWithText(JsonElement value, Utf8JsonWriter writer, ReadOnlySpan<byte> text, string? id = null)
    {
        writer.WriteStartObject();
        foreach (var property in value.EnumerateObject())
        {
            if (id is not null && property.NameEquals("id"u8))
            {
                writer.WriteString("id"u8, id);
            }
            else if (property.NameEquals("text"u8) && property.Value.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("text"u8, text);
            }
            else if (property.NameEquals("content"u8) && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray("content"u8);
                foreach (var part in property.Value.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.Object)
                    {
                        WriteWithText(part, writer, text);
                    }
                    else
                    {
                        part.WriteTo(writer);
                    }
                }

                writer.WriteEndArray();
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }
}
