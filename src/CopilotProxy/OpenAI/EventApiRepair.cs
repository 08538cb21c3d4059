using System.Text.Json;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The tool-call repair for the Responses and Anthropic Messages APIs' whole (non-streamed) answers: a text part that is a
/// tool call written as text becomes <c>function_call</c> output items or <c>tool_use</c> content blocks.
/// </summary>
public static class EventApiRepair
{
    /// <summary>The tools a Responses or Messages request offers: both put <c>name</c> at the top of each tool.</summary>
    public static OfferedTool[] OfferedTools(JsonElement request) => OfferedTool.FromEventApiTools(request);

    /// <summary>Writes <paramref name="root"/> with a tool call written as text replaced by real ones.</summary>
    /// <returns>The number of repaired calls; 0 (nothing written) when the answer has none.</returns>
    public static int TryWrite(JsonElement root, EventApi api, Utf8JsonWriter writer, Func<ToolCallRepair> newRepair) =>
        root.ValueKind != JsonValueKind.Object ? 0 : api == EventApi.Responses ? TryWriteResponse(root, writer, newRepair) : TryWriteMessage(root, writer, newRepair);

    /// <summary>
    /// Runs one repair over the answer's texts in order, as a stream's repair follows the answer's text across the reasoning
    /// taken out of it: which text holds the calls, the text before them in it, and the calls; or null when there are none.
    /// </summary>
    /// <remarks>
    /// A text whose end is held (a call may have begun) decides the repair there, as the stream does when reasoning follows
    /// it; a text released whole hands on to the next.
    /// </remarks>
    private static (int Text, string Before, IReadOnlyList<RepairedToolCall> Calls)? Repair(IReadOnlyList<string> texts, bool truncated, Func<ToolCallRepair> newRepair)
    {
        using var repair = newRepair();
        for (var i = 0; i < texts.Count; i++)
        {
            var unchanged = repair.Append(texts[i]);
            var last = i == texts.Count - 1;
            if (!repair.Active || (!last && !repair.Holding))
            {
                continue;
            }

            var before = unchanged ? "" : System.Text.Encoding.UTF8.GetString(repair.Released);
            repair.Finish(truncated && last);
            return unchanged || repair.Calls.Count == 0 ? null : (i, before, repair.Calls);
        }

        return null;
    }

    /// <summary>
    /// The answer's texts the repair reads: the first text item and those after it with only reasoning items between (the
    /// rest of the answer's text, after a later thought), as positions in <paramref name="items"/>.
    /// </summary>
    private static List<int> TextItems(JsonElement items, Func<JsonElement, bool> isText, ReadOnlySpan<byte> reasoningType)
    {
        var found = new List<int>();
        var index = -1;
        foreach (var item in items.EnumerateArray())
        {
            index++;
            if (isText(item))
            {
                found.Add(index);
            }
            else if (found.Count > 0 && !(item.TryGetMember("type"u8, out var type) && type.IsString(reasoningType)))
            {
                break;
            }
        }

        return found;
    }

    private static int TryWriteResponse(JsonElement root, Utf8JsonWriter writer, Func<ToolCallRepair> newRepair)
    {
        if (!root.TryGetProperty("output"u8, out var output) || output.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }

        // Message items whose content is output_text only, in an answer without real function calls.
        if (output.EnumerateArray().Any(item => item.TryGetMember("type"u8, out var type) && type.IsString("function_call"u8)))
        {
            return 0;
        }

        var texts = TextItems(output, IsTextMessage, "reasoning"u8);
        var truncated = root.TryGetMember("status"u8, out var status) && status.IsString("incomplete"u8);
        if (Repair([.. texts.Select(i => string.Concat(output[i].GetProperty("content"u8).EnumerateArray().Select(p => p.GetProperty("text"u8).GetString())))], truncated, newRepair) is not { } repaired)
        {
            return 0;
        }

        var target = texts[repaired.Text];

        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (!property.NameEquals("output"u8))
            {
                property.WriteTo(writer);
                continue;
            }

            writer.WriteStartArray("output"u8);
            var index = 0;
            foreach (var item in output.EnumerateArray())
            {
                if (index++ != target)
                {
                    item.WriteTo(writer);
                    continue;
                }

                if (repaired.Before.Length > 0)
                {
                    writer.WriteStartObject();
                    foreach (var field in item.EnumerateObject())
                    {
                        if (!field.NameEquals("content"u8))
                        {
                            field.WriteTo(writer);
                        }
                    }

                    writer.WriteStartArray("content"u8);
                    ResponsesReasoning.WriteOutputText(writer, System.Text.Encoding.UTF8.GetBytes(repaired.Before));
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }

                foreach (var call in repaired.Calls)
                {
                    WriteFunctionCall(writer, call);
                }
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
        return repaired.Calls.Count;
    }

    private static bool IsTextMessage(JsonElement item) =>
        item.TryGetMember("type"u8, out var type) && type.IsString("message"u8) && item.TryGetMember("content"u8, out var content) && content.ValueKind == JsonValueKind.Array
        && content.GetArrayLength() > 0 && content.EnumerateArray().All(p => p.TryGetMember("type"u8, out var t) && t.IsString("output_text"u8)
            && p.TryGetMember("text"u8, out var s) && s.ValueKind == JsonValueKind.String);

    /// <summary>A Responses <c>function_call</c> output item; <c>id</c> is the item's, <c>call_id</c> what the client answers with.</summary>
    /// <param name="completed">False: the item as a stream's <c>output_item.added</c> announces it, in progress and without arguments yet.</param>
    public static void WriteFunctionCall(Utf8JsonWriter writer, RepairedToolCall call, bool completed = true)
    {
        writer.WriteStartObject();
        writer.WriteString("type"u8, "function_call"u8);
        writer.WriteString("id"u8, FunctionCallItemId(call));
        writer.WriteString("call_id"u8, call.Id);
        writer.WriteString("name"u8, call.Name);
        writer.WriteString("arguments"u8, completed ? call.Arguments : "");
        writer.WriteString("status"u8, completed ? "completed"u8 : "in_progress"u8);
        writer.WriteEndObject();
    }

    public static string FunctionCallItemId(RepairedToolCall call) => "fc_" + Suffix(call);

    public static string ToolUseId(RepairedToolCall call) => "toolu_" + Suffix(call);

    private static string Suffix(RepairedToolCall call) => call.Id.StartsWith("call_", StringComparison.Ordinal) ? call.Id[5..] : call.Id;

    private static int TryWriteMessage(JsonElement root, Utf8JsonWriter writer, Func<ToolCallRepair> newRepair)
    {
        if (!root.TryGetProperty("content"u8, out var content) || content.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }

        // Text blocks (thinking blocks may come before and between them), in an answer without real tool_use blocks.
        if (content.EnumerateArray().Any(block => block.TryGetMember("type"u8, out var type) && type.IsString("tool_use"u8)))
        {
            return 0;
        }

        var texts = TextItems(content, block => block.TryGetMember("type"u8, out var type) && type.IsString("text"u8)
            && block.TryGetMember("text"u8, out var t) && t.ValueKind == JsonValueKind.String, "thinking"u8);
        var truncated = root.TryGetMember("stop_reason"u8, out var stop) && stop.IsString("max_tokens"u8);
        if (Repair([.. texts.Select(i => content[i].GetProperty("text"u8).GetString()!)], truncated, newRepair) is not { } repaired)
        {
            return 0;
        }

        var index = texts[repaired.Text];

        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("stop_reason"u8))
            {
                writer.WriteString("stop_reason"u8, "tool_use"u8);
                continue;
            }

            if (!property.NameEquals("content"u8))
            {
                property.WriteTo(writer);
                continue;
            }

            writer.WriteStartArray("content"u8);
            var i = 0;
            foreach (var block in content.EnumerateArray())
            {
                if (i++ != index)
                {
                    block.WriteTo(writer);
                    continue;
                }

                if (repaired.Before.Length > 0)
                {
                    writer.WriteStartObject();
                    writer.WriteString("type"u8, "text"u8);
                    writer.WriteString("text"u8, repaired.Before);
                    writer.WriteEndObject();
                }

                foreach (var call in repaired.Calls)
                {
                    writer.WriteStartObject();
                    writer.WriteString("type"u8, "tool_use"u8);
                    writer.WriteString("id"u8, ToolUseId(call));
                    writer.WriteString("name"u8, call.Name);
                    writer.WritePropertyName("input"u8);
                    writer.WriteRawValue(call.Arguments);
                    writer.WriteEndObject();
                }
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
        return repaired.Calls.Count;
    }
}
