using System.Text.Json;
using CopilotProxy.ToolCalls;

namespace CopilotProxy.OpenAI;

/// <summary>The request side and the whole-answer side of the tool-call repair, in OpenAI's shapes.</summary>
public static class RepairedToolCalls
{
    /// <summary>The functions a chat request offers in <c>tools</c> (OpenAI's and Ollama's shape are the same); empty when none.</summary>
    public static OfferedTool[] OfferedTools(IEnumerable<JsonElement>? tools) => OfferedTool.FromChatTools(tools);

    /// <inheritdoc cref="OfferedTools(IEnumerable{JsonElement})"/>
    public static OfferedTool[] OfferedTools(JsonElement request) =>
        request.ValueKind == JsonValueKind.Object && request.TryGetProperty("tools"u8, out var tools) && tools.ValueKind == JsonValueKind.Array
            ? OfferedTools(tools.EnumerateArray())
            : [];

    /// <summary>
    /// A choice whose text is a tool call the model wrote as text: written with the calls in <c>message.tool_calls</c>, the
    /// text before them (if any) as <c>content</c>, and <c>finish_reason: "tool_calls"</c>.
    /// </summary>
    /// <returns>The number of repaired calls; 0 (nothing written) when the choice is not such a choice.</returns>
    public static int TryWriteChoice(JsonElement choice, Utf8JsonWriter writer, Func<ToolCallRepair> newRepair)
    {
        if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("message"u8, out var message) || message.ValueKind != JsonValueKind.Object
            || !message.TryGetProperty("content"u8, out var content) || content.ValueKind != JsonValueKind.String
            || (message.TryGetProperty("tool_calls"u8, out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0))
        {
            return 0;
        }

        using var repair = newRepair();
        var unchanged = repair.Append(content);
        var before = unchanged ? [] : repair.Released.ToArray();
        var truncated = choice.TryGetProperty("finish_reason"u8, out var finish) && finish.ValueEquals("length"u8);
        repair.Finish(truncated);
        if (unchanged || repair.Calls.Count == 0)
        {
            return 0;
        }

        writer.WriteStartObject();
        foreach (var property in choice.EnumerateObject())
        {
            if (property.NameEquals("message"u8))
            {
                writer.WriteStartObject("message"u8);
                foreach (var field in message.EnumerateObject())
                {
                    if (field.NameEquals("content"u8))
                    {
                        if (before.Length > 0)
                        {
                            writer.WriteString("content"u8, before);
                        }
                        else
                        {
                            writer.WriteNull("content"u8);
                        }
                    }
                    else if (!field.NameEquals("tool_calls"u8))
                    {
                        field.WriteTo(writer);
                    }
                }

                writer.WriteStartArray("tool_calls"u8);
                foreach (var call in repair.Calls)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id"u8, call.Id);
                    writer.WriteString("type"u8, "function"u8);
                    writer.WriteStartObject("function"u8);
                    writer.WriteString("name"u8, call.Name);
                    writer.WriteString("arguments"u8, call.Arguments);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            else if (property.NameEquals("finish_reason"u8))
            {
                writer.WriteString("finish_reason"u8, "tool_calls"u8);
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
        return repair.Calls.Count;
    }
}
