using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The OpenAI chat completion (and chunk) fields the proxy reads or rewrites, and the rules on them, written once for
/// the streaming relay (<see cref="SseRelay"/>), the JSON relay (<see cref="JsonRelay"/>) and the Ollama translation.
/// </summary>
public static class OpenAIChunk
{
    public static ReadOnlySpan<byte> Id => "id"u8;
    public static ReadOnlySpan<byte> Created => "created"u8;
    public static ReadOnlySpan<byte> Model => "model"u8;
    public static ReadOnlySpan<byte> Choices => "choices"u8;
    public static ReadOnlySpan<byte> Index => "index"u8;
    public static ReadOnlySpan<byte> Delta => "delta"u8;
    public static ReadOnlySpan<byte> Message => "message"u8;
    public static ReadOnlySpan<byte> Role => "role"u8;
    public static ReadOnlySpan<byte> Content => "content"u8;
    public static ReadOnlySpan<byte> Text => "text"u8;
    public static ReadOnlySpan<byte> ToolCalls => "tool_calls"u8;
    public static ReadOnlySpan<byte> FinishReason => "finish_reason"u8;
    public static ReadOnlySpan<byte> Usage => "usage"u8;
    public static ReadOnlySpan<byte> PromptTokens => "prompt_tokens"u8;
    public static ReadOnlySpan<byte> CompletionTokens => "completion_tokens"u8;
    public static ReadOnlySpan<byte> ReasoningContent => "reasoning_content"u8;
    public static ReadOnlySpan<byte> Reasoning => "reasoning"u8;
    public static ReadOnlySpan<byte> ReasoningText => "reasoning_text"u8;
    public static ReadOnlySpan<byte> Error => "error"u8;

    /// <summary>An id for a tool call the upstream sent without one (or with ""): clients link results to calls by it.</summary>
    public static string NewToolCallId() => global::CopilotProxy.ToolCalls.RepairedToolCall.NewId();

    /// <summary>The call's own id, when it has a usable one: Copilot treats <c>""</c> as no id at all.</summary>
    public static string? ToolCallId(JsonElement call) =>
        call.ValueKind == JsonValueKind.Object && call.TryGetProperty(Id, out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 } given
            ? given : null;

    /// <summary>
    /// The finish reason a client should see. A turn that made tool calls finished <i>because</i> of them, whatever the
    /// upstream says (Ollama does the same, openai.go FinishChunk), and Copilot only runs calls after <c>tool_calls</c>.
    /// </summary>
    public static string? FinishReasonFor(string? upstreamReason, bool madeToolCalls) =>
        upstreamReason == "stop" && madeToolCalls ? "tool_calls" : upstreamReason;

    /// <summary>Token counts from <c>usage</c> on a completion or chunk; each stays as given when absent.</summary>
    public static void ReadUsage(JsonElement root, ref int? promptTokens, ref int? completionTokens)
    {
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(Usage, out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            // UpstreamJson: a string or object where a count belongs must not throw (found by fuzzing).
            promptTokens = UpstreamJson.TryGetInt32(usage, PromptTokens, out var pv) ? pv : promptTokens;
            completionTokens = UpstreamJson.TryGetInt32(usage, CompletionTokens, out var cv) ? cv : completionTokens;
        }
    }

    /// <summary>
    /// As <see cref="ReadUsage(JsonElement, ref int?, ref int?)"/> for a forward reader positioned on the <c>usage</c>
    /// property name; leaves it on the value's last token. False when usage is neither an object nor null.
    /// </summary>
    public static bool ReadUsage(ref Utf8JsonReader reader, ref int? promptTokens, ref int? completionTokens)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isPrompt = reader.ValueTextEquals(PromptTokens);
            var isCompletion = !isPrompt && reader.ValueTextEquals(CompletionTokens);
            reader.Read();
            if ((isPrompt || isCompletion) && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value))
            {
                if (isPrompt)
                {
                    promptTokens = value;
                }
                else
                {
                    completionTokens = value;
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return true;
    }

    /// <summary>
    /// Writes a property exactly as the upstream spelled its value: no unescaping and re-escaping, so a field the proxy
    /// doesn't change leaves with the upstream's bytes, on the document path as on the fast path.
    /// </summary>
    public static void CopyProperty(JsonProperty property, Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var name = JsonMarshal.GetRawUtf8PropertyName(property);
        if (name.IndexOf((byte)'\\') < 0)
        {
            writer.WritePropertyName(name);
        }
        else
        {
            writer.WritePropertyName(property.Name);
        }

        CopyValue(property.Value, writer);
    }

    /// <summary>Writes a value exactly as the upstream spelled it (see <see cref="CopyProperty"/>).</summary>
    public static void CopyValue(JsonElement value, Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(value), skipInputValidation: true);
    }

    /// <summary>
    /// True when <paramref name="json"/> has no whitespace between its tokens. The relay's fast path copies an event's
    /// bytes; the document path writes compact JSON. Only a compact event may take the fast path, so both paths give a
    /// client the same bytes. <see cref="CompactReader"/> checks the tokens it reads itself, and this the values it skips.
    /// </summary>
    public static bool IsCompact(ReadOnlySpan<byte> json)
    {
        var at = 0;
        while (true)
        {
            var next = json[at..].IndexOfAny("\" \t\r\n"u8);
            if (next < 0)
            {
                return true;
            }

            at += next;
            if (json[at] != (byte)'"')
            {
                return false;
            }

            // Inside a string: find its closing quote, stepping over escapes.
            at++;
            while (true)
            {
                var end = json[at..].IndexOfAny((byte)'"', (byte)'\\');
                if (end < 0)
                {
                    return true;
                }

                at += end;
                if (json[at] == (byte)'\\')
                {
                    at += 2;
                    if (at >= json.Length)
                    {
                        return true;
                    }

                    continue;
                }

                at++;
                break;
            }
        }
    }
}
