using System.Buffers;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Reasoning written as text in a whole Responses or Messages answer: the first message item's (or text block's) text is
/// split, and the reasoning goes before it as that API's own part, a <c>reasoning</c> output item or a <c>thinking</c>
/// content block, the shapes LM Studio uses when it separates reasoning itself.
/// </summary>
public static class ReasoningAnswers
{
    /// <summary>The answer with its reasoning in its own item or block; null when its text held none (or already had one).</summary>
    public static JsonDocument? Separate(JsonElement root, EventApi api, ReasoningFormats formats, string model, ILogger logger, out ReasoningFormats? found)
    {
        found = null;
        var (list, textType) = api == EventApi.Responses ? ("output"u8.ToArray(), "message"u8.ToArray()) : ("content"u8.ToArray(), "text"u8.ToArray());
        if (formats == ReasoningFormats.None || !root.TryGetMember(list, out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var target = -1;
        var index = 0;
        foreach (var item in items.EnumerateArray())
        {
            if (item.TryGetMember("type"u8, out var type) && (type.IsString("reasoning"u8) || type.IsString("thinking"u8)))
            {
                return null; // The upstream separated it.
            }

            if (target < 0 && item.TryGetMember("type"u8, out type) && type.IsString(textType) && TextOf(item, api) is not null)
            {
                target = index;
            }

            index++;
        }

        if (target < 0 || ReasoningSplitter.SplitRuns(TextOf(items[target], api)!, formats, model, logger) is not { } split)
        {
            return null;
        }

        found = split.Found;
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (!property.NameEquals(list))
                {
                    property.WriteTo(writer);
                    continue;
                }

                writer.WriteStartArray(list);
                index = 0;
                foreach (var item in items.EnumerateArray())
                {
                    if (index++ == target)
                    {
                        WriteRuns(writer, item, api, split.Runs);
                    }
                    else
                    {
                        item.WriteTo(writer);
                    }
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        return JsonDocument.Parse(buffer.WrittenMemory);
    }

    /// <summary>A Messages text block's text, or a Responses message item's text when all its parts are output_text.</summary>
    private static string? TextOf(JsonElement item, EventApi api)
    {
        if (api == EventApi.Messages)
        {
            return item.TryGetMember("text"u8, out var text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null;
        }

        if (!item.TryGetMember("content"u8, out var content) || content.ValueKind != JsonValueKind.Array || content.GetArrayLength() == 0)
        {
            return null;
        }

        var parts = new List<string>();
        foreach (var part in content.EnumerateArray())
        {
            if (!part.TryGetMember("type"u8, out var type) || !type.IsString("output_text"u8) || !part.TryGetMember("text"u8, out var text) || text.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            parts.Add(text.GetString()!);
        }

        return string.Concat(parts);
    }

    /// <summary>
    /// The item's runs in the order written, as the streamed answer shows them: a reasoning item or thinking block per run
    /// of reasoning, a copy of the item with the text per run of answer text. A Responses message after the first gets an
    /// id of its own.
    /// </summary>
    private static void WriteRuns(Utf8JsonWriter writer, JsonElement item, EventApi api, IReadOnlyList<(bool Reasoning, string Text)> runs)
    {
        if (runs.Count == 0)
        {
            // Only empty reasoning was taken out (<think></think>): no empty reasoning item or thinking block, which the
            // streamed answer can't show either, and the item stays, with no text, as the stream's does.
            WriteWithText(writer, item, api, "", null);
            return;
        }

        string? id = null;
        foreach (var (reasoning, text) in runs)
        {
            if (reasoning)
            {
                WriteReasoning(writer, api, text);
                continue;
            }

            WriteWithText(writer, item, api, text, id);
            id = ResponsesReasoning.NewMessageId();
        }
    }

    /// <summary>LM Studio's shapes: a <c>reasoning</c> item with a <c>reasoning_text</c> part; Anthropic's <c>thinking</c> block.</summary>
    private static void WriteReasoning(Utf8JsonWriter writer, EventApi api, string reasoning)
    {
        if (api == EventApi.Responses)
        {
            ResponsesReasoning.WriteReasoningItem(writer, ResponsesReasoning.NewReasoningId(), "completed"u8, System.Text.Encoding.UTF8.GetBytes(reasoning));
            return;
        }

        writer.WriteStartObject();
        writer.WriteString("type"u8, "thinking"u8);
        writer.WriteString("thinking"u8, reasoning);
        writer.WriteEndObject();
    }

    /// <summary>The item or block with its text replaced (a Responses message keeps its first part, with the answer text), and its id when <paramref name="id"/> is set.</summary>
    private static void WriteWithText(Utf8JsonWriter writer, JsonElement item, EventApi api, string text, string? id)
    {
        writer.WriteStartObject();
        foreach (var property in item.EnumerateObject())
        {
            if (id is not null && property.NameEquals("id"u8))
            {
                writer.WriteString("id"u8, id);
            }
            else if (api == EventApi.Messages && property.NameEquals("text"u8))
            {
                writer.WriteString("text"u8, text);
            }
            else if (api == EventApi.Responses && property.NameEquals("content"u8))
            {
                writer.WriteStartArray("content"u8);
                writer.WriteStartObject();
                foreach (var field in property.Value[0].EnumerateObject())
                {
                    if (field.NameEquals("text"u8))
                    {
                        writer.WriteString("text"u8, text);
                    }
                    else
                    {
                        field.WriteTo(writer);
                    }
                }

                writer.WriteEndObject();
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
