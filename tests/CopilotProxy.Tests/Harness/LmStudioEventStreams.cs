using System.Text.Json.Nodes;

namespace CopilotProxy.Tests.Harness;

/// <summary>One SSE event with a name: <c>event: {Name}\ndata: {Data}\n\n</c>, as the Responses and Messages APIs frame them.</summary>
public sealed record NamedEvent(string Name, string Data);

/// <summary>
/// Streams of LM Studio's newer APIs: <c>/v1/responses</c> (0.3.29+, OpenAI's typed Responses events with
/// <c>sequence_number</c>, no <c>[DONE]</c>) and the Anthropic-compatible <c>/v1/messages</c> (0.4.1+:
/// message_start … message_stop, tool input as <c>input_json_delta</c> pieces).
/// </summary>
public static class LmStudioEventStreams
{
    public static List<NamedEvent> ResponsesText(string model, params string[] tokens) => Responses(model, tokens, null, 12);

    public static List<NamedEvent> ResponsesToolCall(string model, FakeToolCall call) => Responses(model, [], call, 20);

    /// <summary>
    /// The stream of one answer: either text tokens or one function call, then <c>response.completed</c> with usage; or, when
    /// the token limit (<c>max_output_tokens</c>) cut it off, the item and the response end <c>incomplete</c> and the last
    /// event is <c>response.incomplete</c> with <c>incomplete_details.reason: "max_output_tokens"</c>.
    /// </summary>
    public static List<NamedEvent> Responses(string model, string[] tokens, FakeToolCall? call, int inputTokens, bool cutOff = false)
    {
        var id = "resp_" + LmStudioSse.RandomAlnum(24);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var events = new List<NamedEvent>();
        var sequence = 0;
        void Add(string type, JsonObject data)
        {
            data["type"] = type;
            data["sequence_number"] = sequence++;
            events.Add(new NamedEvent(type, JsJson.Write(data)));
        }

        JsonObject Response(string status, JsonArray output, JsonNode? usage) => new()
        {
            ["id"] = id,
            ["object"] = "response",
            ["created_at"] = created,
            ["status"] = status,
            ["model"] = model,
            ["output"] = output,
            ["usage"] = usage,
            ["incomplete_details"] = status == "incomplete" ? new JsonObject { ["reason"] = "max_output_tokens" } : null,
        };

        Add("response.created", new JsonObject { ["response"] = Response("in_progress", [], null) });
        Add("response.in_progress", new JsonObject { ["response"] = Response("in_progress", [], null) });
        JsonObject item;
        var outputTokens = 0;
        if (call is not null)
        {
            var itemId = "fc_" + LmStudioSse.RandomAlnum(24);
            var callId = call.Id ?? LmStudioSse.NumericId();
            item = new JsonObject { ["id"] = itemId, ["type"] = "function_call", ["status"] = "in_progress", ["call_id"] = callId, ["name"] = call.Name, ["arguments"] = "" };
            Add("response.output_item.added", new JsonObject { ["output_index"] = 0, ["item"] = item.DeepClone() });
            for (var i = 0; i < call.Arguments.Length; i += call.PieceLength)
            {
                var piece = call.Arguments.Substring(i, Math.Min(call.PieceLength, call.Arguments.Length - i));
                Add("response.function_call_arguments.delta", new JsonObject { ["item_id"] = itemId, ["output_index"] = 0, ["delta"] = piece });
                outputTokens++;
            }

            Add("response.function_call_arguments.done", new JsonObject { ["item_id"] = itemId, ["output_index"] = 0, ["arguments"] = call.Arguments });
            item["status"] = cutOff ? "incomplete" : "completed";
            item["arguments"] = call.Arguments;
        }
        else
        {
            var itemId = "msg_" + LmStudioSse.RandomAlnum(24);
            item = new JsonObject { ["id"] = itemId, ["type"] = "message", ["status"] = "in_progress", ["role"] = "assistant", ["content"] = new JsonArray() };
            Add("response.output_item.added", new JsonObject { ["output_index"] = 0, ["item"] = item.DeepClone() });
            Add("response.content_part.added", new JsonObject { ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0, ["part"] = new JsonObject { ["type"] = "output_text", ["text"] = "", ["annotations"] = new JsonArray() } });
            foreach (var token in tokens)
            {
                Add("response.output_text.delta", new JsonObject { ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0, ["delta"] = token });
                outputTokens++;
            }

            var text = string.Concat(tokens);
            Add("response.output_text.done", new JsonObject { ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0, ["text"] = text });
            var part = new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() };
            Add("response.content_part.done", new JsonObject { ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0, ["part"] = part.DeepClone() });
            item["status"] = cutOff ? "incomplete" : "completed";
            item["content"] = new JsonArray(part);
        }

        Add("response.output_item.done", new JsonObject { ["output_index"] = 0, ["item"] = item.DeepClone() });
        var usage = new JsonObject { ["input_tokens"] = inputTokens, ["output_tokens"] = outputTokens, ["total_tokens"] = inputTokens + outputTokens };
        var end = cutOff ? "incomplete" : "completed";
        Add("response." + end, new JsonObject { ["response"] = Response(end, new JsonArray(item), usage) });
        return events;
    }

    /// <summary>The non-streamed Responses answer: the object <c>response.completed</c> carries.</summary>
    public static string ResponsesJson(string model, string text, int inputTokens = 12, int outputTokens = 5) => JsJson.Write(new JsonObject
    {
        ["id"] = "resp_" + LmStudioSse.RandomAlnum(24),
        ["object"] = "response",
        ["created_at"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["status"] = "completed",
        ["model"] = model,
        ["output"] = new JsonArray(new JsonObject
        {
            ["id"] = "msg_" + LmStudioSse.RandomAlnum(24),
            ["type"] = "message",
            ["status"] = "completed",
            ["role"] = "assistant",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() }),
        }),
        ["usage"] = new JsonObject { ["input_tokens"] = inputTokens, ["output_tokens"] = outputTokens, ["total_tokens"] = inputTokens + outputTokens },
    });

    public static List<NamedEvent> MessagesText(string model, params string[] tokens) => Messages(model, tokens, null, 12);

    public static List<NamedEvent> MessagesToolUse(string model, FakeToolCall call, params string[] leadingText) => Messages(model, leadingText, call, 20);

    /// <summary>Anthropic's stream: optional text block, optional tool_use block, message_delta with stop_reason and usage, message_stop.</summary>
    public static List<NamedEvent> Messages(string model, string[] tokens, FakeToolCall? call, int inputTokens)
    {
        var events = new List<NamedEvent>();
        void Add(string type, JsonObject data)
        {
            data["type"] = type;
            events.Add(new NamedEvent(type, JsJson.Write(data)));
        }

        Add("message_start", new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["id"] = "msg_" + LmStudioSse.RandomAlnum(24),
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = model,
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = inputTokens, ["output_tokens"] = 1 },
            },
        });
        var index = 0;
        var outputTokens = 0;
        if (tokens.Length > 0)
        {
            Add("content_block_start", new JsonObject { ["index"] = index, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
            foreach (var token in tokens)
            {
                Add("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = token } });
                outputTokens++;
            }

            Add("content_block_stop", new JsonObject { ["index"] = index });
            index++;
        }

        if (call is not null)
        {
            var id = call.Id ?? "toolu_" + LmStudioSse.RandomAlnum(24);
            Add("content_block_start", new JsonObject
            {
                ["index"] = index,
                ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = id, ["name"] = call.Name, ["input"] = new JsonObject() },
            });
            for (var i = 0; i < call.Arguments.Length; i += call.PieceLength)
            {
                var piece = call.Arguments.Substring(i, Math.Min(call.PieceLength, call.Arguments.Length - i));
                Add("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = piece } });
                outputTokens++;
            }

            Add("content_block_stop", new JsonObject { ["index"] = index });
        }

        Add("message_delta", new JsonObject
        {
            ["delta"] = new JsonObject { ["stop_reason"] = call is null ? "end_turn" : "tool_use", ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = outputTokens },
        });
        Add("message_stop", new JsonObject());
        return events;
    }

    /// <summary>The non-streamed Messages answer.</summary>
    public static string MessagesJson(string model, string text, int inputTokens = 12, int outputTokens = 5) => JsJson.Write(new JsonObject
    {
        ["id"] = "msg_" + LmStudioSse.RandomAlnum(24),
        ["type"] = "message",
        ["role"] = "assistant",
        ["model"] = model,
        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
        ["stop_reason"] = "end_turn",
        ["stop_sequence"] = null,
        ["usage"] = new JsonObject { ["input_tokens"] = inputTokens, ["output_tokens"] = outputTokens },
    });
}
