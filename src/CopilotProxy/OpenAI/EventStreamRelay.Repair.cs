using System.Text.Json;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The tool-call repair on a Messages stream: the first text block's <c>text_delta</c>s go through the repair, so text is
/// sent as it comes and held only from where a call could begin; a call written as text leaves as <c>tool_use</c> blocks
/// and <c>stop_reason: "tool_use"</c>.
/// </summary>
/// <remarks>
/// The text block's <c>content_block_start</c> waits for its first released text, so an answer that is only a call has no
/// empty text block (Anthropic rejects empty text blocks when the client sends the history back). While text is held at
/// the block's end, its <c>content_block_stop</c> waits for <c>message_delta</c>: only its <c>stop_reason</c> says whether
/// the token limit cut the call off.
/// </remarks>
public sealed partial class EventStreamRelay
{
    private int _repairIndex = -1;
    private bool _textStarted;
    private bool _stopDeferred;
    private int _indexShift;
    private bool _textEnded;

    /// <summary>How many tool calls written as text this stream turned into real ones.</summary>
    public int RepairedToolCalls { get; private set; }

    /// <summary>Handles the event when the repair needs to; false: write it as it is.</summary>
    private bool RepairMessages(string? type, JsonElement root)
    {
        var index = root.TryGetProperty("index"u8, out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var iv) ? iv : -1;
        if (_stopDeferred && type != "message_delta")
        {
            var realCall = type == "content_block_start" && root.TryGetMember("content_block"u8, out var b) && b.TryGetMember("type"u8, out var bt) && bt.IsString("tool_use"u8);
            Settle(truncated: false, stopReasonEvent: null, stop: realCall);
        }

        if (_textEnded && FollowsText(type, root, index))
        {
            return true;
        }

        switch (type)
        {
            case "content_block_start" when _repairIndex < 0 && repair!.Active:
                if (root.TryGetMember("content_block"u8, out var block) && block.TryGetMember("type"u8, out var blockType))
                {
                    if (blockType.IsString("text"u8))
                    {
                        _repairIndex = index;
                        return true;
                    }

                    if (blockType.IsString("tool_use"u8))
                    {
                        repair.Stop();
                    }
                }

                return false;
            case "content_block_delta" when index == _repairIndex && index >= 0:
                if (!root.TryGetMember("delta"u8, out var delta) || !delta.TryGetMember("text"u8, out var text) || text.ValueKind != JsonValueKind.String)
                {
                    StartText();
                    return false;
                }

                if (repair!.Append(text))
                {
                    StartText();
                    return false;
                }

                WriteText(repair.Released);
                return true;
            case "content_block_stop" when index == _repairIndex && index >= 0:
                if (repair!.Holding)
                {
                    _stopDeferred = true;
                    return true;
                }

                StartText();
                if (Reasoning is not null)
                {
                    // Reasoning written as text may have ended this block to open a thinking block: the answer's next text
                    // block continues the same text, so the repair waits for it (FollowsText).
                    _textEnded = true;
                    return false;
                }

                repair.Stop();
                return false;
            case "message_delta" when _stopDeferred:
                var stopReason = root.TryGetMember("delta"u8, out var d) && d.TryGetMember("stop_reason"u8, out var sr) ? sr : default;
                Settle(stopReason.IsString("max_tokens"u8), root, stop: false);
                return true;
            case "content_block_start" or "content_block_delta" or "content_block_stop" when _indexShift != 0 && index > _repairIndex:
                WriteShifted(type, root, index + _indexShift);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// After the repaired text block ended: a thinking block passes, and the next text block continues the repair's text
    /// (true: its start waits for released text, as the first one's did); anything else ends the repair.
    /// </summary>
    private bool FollowsText(string? type, JsonElement root, int index)
    {
        var blockType = type == "content_block_start" && root.TryGetMember("content_block"u8, out var b) && b.TryGetMember("type"u8, out var bt) ? bt : default;
        if (type is "content_block_delta" or "content_block_stop" || blockType.IsString("thinking"u8))
        {
            return false;
        }

        _textEnded = false;
        if (blockType.IsString("text"u8) && repair!.Active)
        {
            _repairIndex = index;
            _textStarted = false;
            return true;
        }

        repair!.Stop();
        return false;
    }

    /// <summary>The stream failed: text still held goes out as text before the error event, so nothing the model wrote is lost.</summary>
    private void ReleaseHeld()
    {
        if (Renumbers)
        {
            if (_messageIndex >= 0 && !_settled && (repair!.Holding || _closing.Count > 0))
            {
                SettleResponses(truncated: false, stop: true);
            }

            return;
        }

        if (repair is { Holding: true } && _repairIndex >= 0)
        {
            repair.Stop();
            WriteText(repair.Released);
        }
    }

    /// <summary>Decides the held text: its rest as text, or the calls as tool_use blocks; then the deferred events.</summary>
    private void Settle(bool truncated, JsonElement? stopReasonEvent, bool stop)
    {
        _stopDeferred = false;
        if (stop)
        {
            repair!.Stop();
        }
        else
        {
            repair!.Finish(truncated);
        }

        WriteText(repair.Released);
        var calls = repair.Calls;
        if (calls.Count == 0 || _textStarted)
        {
            StartText();
            WriteBlockEvent("content_block_stop", _repairIndex, null);
        }

        var next = _textStarted ? _repairIndex + 1 : _repairIndex;
        foreach (var call in calls)
        {
            WriteBlockEvent("content_block_start", next, call);
            WriteBlockEvent("content_block_delta", next, call);
            WriteBlockEvent("content_block_stop", next, call);
            next++;
        }

        RepairedToolCalls += calls.Count;
        _indexShift = next - (_repairIndex + 1);
        if (stopReasonEvent is { } messageDelta)
        {
            if (calls.Count > 0)
            {
                FinishReason = "tool_use";
            }

            WriteMessageDelta(messageDelta, calls.Count > 0);
        }
    }

    private void StartText()
    {
        if (_textStarted || _repairIndex < 0)
        {
            return;
        }

        _textStarted = true;
        using var writer = Begin("content_block_start");
        writer.WriteStartObject();
        writer.WriteString("type"u8, "content_block_start"u8);
        writer.WriteNumber("index"u8, _repairIndex);
        writer.WriteStartObject("content_block"u8);
        writer.WriteString("type"u8, "text"u8);
        writer.WriteString("text"u8, ""u8);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.Flush();
        End();
    }

    private void WriteText(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        StartText();
        using var writer = Begin("content_block_delta");
        writer.WriteStartObject();
        writer.WriteString("type"u8, "content_block_delta"u8);
        writer.WriteNumber("index"u8, _repairIndex);
        writer.WriteStartObject("delta"u8);
        writer.WriteString("type"u8, "text_delta"u8);
        writer.WriteString("text"u8, text);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.Flush();
        End();
    }

    /// <summary>One event of a text block's end or of a repaired call's tool_use block.</summary>
    private void WriteBlockEvent(string type, int index, RepairedToolCall? call)
    {
        using var writer = Begin(type);
        writer.WriteStartObject();
        writer.WriteString("type"u8, type);
        writer.WriteNumber("index"u8, index);
        if (call is not null && type == "content_block_start")
        {
            writer.WriteStartObject("content_block"u8);
            writer.WriteString("type"u8, "tool_use"u8);
            writer.WriteString("id"u8, EventApiRepair.ToolUseId(call));
            writer.WriteString("name"u8, call.Name);
            writer.WriteStartObject("input"u8);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        else if (call is not null && type == "content_block_delta")
        {
            writer.WriteStartObject("delta"u8);
            writer.WriteString("type"u8, "input_json_delta"u8);
            writer.WriteString("partial_json"u8, call.Arguments);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.Flush();
        End();
    }

    private void WriteMessageDelta(JsonElement root, bool toolUse)
    {
        using var writer = Begin("message_delta");
        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (toolUse && property.NameEquals("delta"u8) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WriteStartObject("delta"u8);
                foreach (var field in property.Value.EnumerateObject())
                {
                    if (!field.NameEquals("stop_reason"u8))
                    {
                        field.WriteTo(writer);
                    }
                }

                writer.WriteString("stop_reason"u8, "tool_use"u8);
                writer.WriteEndObject();
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

    /// <summary>A later upstream block, renumbered after the repaired calls took the text block's place.</summary>
    private void WriteShifted(string type, JsonElement root, int index)
    {
        using var writer = Begin(type);
        WriteWithIndex(writer, root, index);
        writer.Flush();
        End();
    }

    /// <summary>A Messages block event as it came but at block <paramref name="index"/> (the repair's and <see cref="MessagesReasoning"/>'s renumbering).</summary>
    internal static void WriteWithIndex(Utf8JsonWriter writer, JsonElement root, int index)
    {
        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("index"u8))
            {
                writer.WriteNumber("index"u8, index);
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }
}
