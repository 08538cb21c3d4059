using System.Buffers;
using System.Text.Json;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The relay's document path: an event parsed into a <see cref="JsonDocument"/> is written back with the Copilot rules
/// applied (model, tool-call ids, split deltas, reasoning_text, finish reason), every other value copied as the upstream
/// spelled it.
/// </summary>
public sealed partial class SseRelay
{
    private static bool HasChoices(JsonElement root) =>
        root.TryGetProperty(OpenAIChunk.Choices, out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0;

    private static bool NeedsSplit(JsonElement root)
    {
        if (!root.TryGetProperty(OpenAIChunk.Choices, out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty(OpenAIChunk.Delta, out var delta) && delta.ValueKind == JsonValueKind.Object
                && HasText(delta) && delta.TryGetProperty(OpenAIChunk.ToolCalls, out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Non-empty text content, tested without materialising the string (this runs for every event).</summary>
    private static bool HasText(JsonElement delta) =>
        delta.TryGetProperty(OpenAIChunk.Content, out var content) && content.ValueKind == JsonValueKind.String && !content.ValueEquals(ReadOnlySpan<byte>.Empty);

    private void WriteChunk(JsonElement root, DeltaPart part)
    {
        _output.Write(DataPrefix);
        _writer.Reset(_output);
        _writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.Model))
            {
                _writer.WriteString(OpenAIChunk.Model, _clientModel);
            }
            else if (property.NameEquals(OpenAIChunk.Choices) && property.Value.ValueKind == JsonValueKind.Array)
            {
                _writer.WritePropertyName(OpenAIChunk.Choices);
                WriteChoices(property.Value, part);
            }
            else if (property.NameEquals(OpenAIChunk.Usage) && part == DeltaPart.TextOnly)
            {
                // Usage belongs to the last event of a split pair only, so a client never counts it twice.
            }
            else
            {
                OpenAIChunk.CopyProperty(property, _writer);
            }
        }

        _writer.WriteEndObject();
        _writer.Flush();
        _output.Write(EventEnd);
    }

    private void WriteChoices(JsonElement choices, DeltaPart part)
    {
        _writer.WriteStartArray();
        var content = _content;
        foreach (var choice in choices.EnumerateArray())
        {
            // The repair follows the first choice only (Copilot and the SDKs ask for n = 1).
            _content = content;
            content = ContentSource.Upstream;
            if (choice.ValueKind != JsonValueKind.Object)
            {
                OpenAIChunk.CopyValue(choice, _writer);
                continue;
            }

            _writer.WriteStartObject();
            foreach (var property in choice.EnumerateObject())
            {
                if (property.NameEquals(OpenAIChunk.Delta) && property.Value.ValueKind == JsonValueKind.Object)
                {
                    _writer.WritePropertyName(OpenAIChunk.Delta);
                    WriteDelta(property.Value, part);
                }
                else if (property.NameEquals(OpenAIChunk.FinishReason))
                {
                    WriteFinishReason(property.Value, part);
                }
                else
                {
                    OpenAIChunk.CopyProperty(property, _writer);
                }
            }

            _writer.WriteEndObject();
        }

        _content = ContentSource.Upstream;
        _writer.WriteEndArray();
    }

    private void WriteFinishReason(JsonElement value, DeltaPart part)
    {
        if (part == DeltaPart.TextOnly || value.ValueKind != JsonValueKind.String)
        {
            _writer.WriteNull(OpenAIChunk.FinishReason);
            return;
        }

        // Repaired calls are whole, so the turn ended with them even when the limit was reached right after.
        var reason = _repairedCalls > 0 ? "tool_calls" : OpenAIChunk.FinishReasonFor(value.GetString(), _toolCallIds.Count > 0);

        _sawFinish = true;
        _finishReason = reason;
        _writer.WriteString(OpenAIChunk.FinishReason, reason);
    }

    private void WriteDelta(JsonElement delta, DeltaPart part)
    {
        _writer.WriteStartObject();
        var hasReasoningText = delta.TryGetProperty(OpenAIChunk.ReasoningText, out _);
        foreach (var property in delta.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.ToolCalls))
            {
                if (part != DeltaPart.TextOnly && property.Value.ValueKind == JsonValueKind.Array)
                {
                    _writer.WritePropertyName(OpenAIChunk.ToolCalls);
                    WriteToolCalls(property.Value);
                }
                else if (part != DeltaPart.TextOnly)
                {
                    OpenAIChunk.CopyProperty(property, _writer);
                }
            }
            else if (part == DeltaPart.ToolCallsOnly && !property.NameEquals(OpenAIChunk.Role))
            {
                // The tool-call half of a split delta carries only the calls (and the role).
            }
            else if (property.NameEquals(OpenAIChunk.Content) && _content != ContentSource.Upstream)
            {
                // While the repair holds the text the event keeps an empty content, as the fast path writes it.
                if (_content == ContentSource.Repair)
                {
                    _writer.WriteString(OpenAIChunk.Content, _repair!.Released);
                }
            }
            else if (property.NameEquals(OpenAIChunk.ReasoningContent) || property.NameEquals(OpenAIChunk.Reasoning))
            {
                OpenAIChunk.CopyProperty(property, _writer);
                if (!hasReasoningText && property.Value.ValueKind == JsonValueKind.String)
                {
                    _writer.WritePropertyName(OpenAIChunk.ReasoningText);
                    OpenAIChunk.CopyValue(property.Value, _writer);
                    hasReasoningText = true;
                }
            }
            else
            {
                OpenAIChunk.CopyProperty(property, _writer);
            }
        }

        _writer.WriteEndObject();
    }

    /// <summary>The id of the call at <paramref name="index"/>: the upstream's when it sent one, else the one synthesised before, else a new one.</summary>
    private string RecordToolCallId(JsonElement call, int index)
    {
        while (_toolCallIds.Count <= index)
        {
            _toolCallIds.Add(null);
        }

        if ((OpenAIChunk.ToolCallId(call) ?? _toolCallIds[index]) is { } known)
        {
            return _toolCallIds[index] = known;
        }

        var id = _toolCallIds[index] = OpenAIChunk.NewToolCallId();
        _telemetry?.AddChange(new ProxyChange(ProxyChangeKind.ToolCallIdsRewritten, $"tool call {index} came without an id; the client got {id}", Count: 1));
        return id;
    }

    private void WriteToolCalls(JsonElement calls)
    {
        _writer.WriteStartArray();
        var position = 0;
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object)
            {
                OpenAIChunk.CopyValue(call, _writer);
                position++;
                continue;
            }

            var index = UpstreamJson.ToolCallIndex(call, position);
            _writer.WriteStartObject();
            _writer.WriteNumber(OpenAIChunk.Index, index);
            // Looked up again rather than indexed: an event whose JSON repeats "choices" shows the writer calls the first
            // pass did not see (found by the fuzzer), and a missing id must never crash the stream.
            _writer.WriteString(OpenAIChunk.Id, _toolCallIds.Count > index && _toolCallIds[index] is { } known ? known : RecordToolCallId(call, index));
            foreach (var property in call.EnumerateObject())
            {
                if (!property.NameEquals(OpenAIChunk.Index) && !property.NameEquals(OpenAIChunk.Id))
                {
                    OpenAIChunk.CopyProperty(property, _writer);
                }
            }

            _writer.WriteEndObject();
            position++;
        }

        _writer.WriteEndArray();
    }
}
