using System.Buffers;
using System.Text.Json;
using CopilotProxy.ToolCalls;

namespace CopilotProxy.OpenAI;

/// <summary>The relay's side of the tool-call repair: what the first choice's text becomes while the repair decides, and its verdict.</summary>
public sealed partial class SseRelay
{
    /// <summary>What the first choice's <c>content</c> becomes while the tool-call repair is deciding.</summary>
    private enum ContentSource
    {
        Upstream,
        Repair,
        None,
    }

    private readonly ToolCallRepair? _repair;
    private ContentSource _content;
    private int _repairedCalls;

    /// <summary>
    /// A plain event whose text the tool-call repair holds or releases: the upstream's bytes with the model name swapped and
    /// the content replaced by <paramref name="text"/> (empty while the repair holds it).
    /// </summary>
    private void WriteWithContent(ReadOnlySpan<byte> data, in PlainEventScan plain, ReadOnlySpan<byte> text)
    {
        var (modelStart, modelEnd, contentStart, contentEnd) = (plain.ModelStart, plain.ModelEnd, plain.ContentStart, plain.ContentEnd);
        _output.Write(DataPrefix);
        var at = 0;
        if (modelStart >= 0 && modelStart < contentStart)
        {
            _output.Write(data[..modelStart]);
            _output.Write(_clientModelJson);
            at = modelEnd;
        }

        _output.Write(data[at..contentStart]);
        _writer.Reset(_output);
        _writer.WriteStringValue(text);
        _writer.Flush();
        at = contentEnd;
        if (modelStart > contentStart)
        {
            _output.Write(data[at..modelStart]);
            _output.Write(_clientModelJson);
            at = modelEnd;
        }

        _output.Write(data[at..]);
        _output.Write(EventEnd);
    }

    /// <summary>A chunk of the proxy's own, in the stream's id, created and model: opens <c>choices[0].delta</c> for the caller to fill.</summary>
    private void BeginSyntheticChunk()
    {
        _output.Write(DataPrefix);
        _writer.Reset(_output);
        _writer.WriteStartObject();
        _writer.WriteString(OpenAIChunk.Id, _chunkId ?? "chatcmpl-proxy");
        _writer.WriteString("object"u8, "chat.completion.chunk"u8);
        _writer.WriteNumber(OpenAIChunk.Created, _created);
        _writer.WriteString(OpenAIChunk.Model, _clientModel);
        _writer.WriteStartArray(OpenAIChunk.Choices);
        _writer.WriteStartObject();
        _writer.WriteNumber(OpenAIChunk.Index, 0);
        _writer.WriteStartObject(OpenAIChunk.Delta);
    }

    /// <summary>Closes the delta <see cref="BeginSyntheticChunk"/> opened, with this finish reason (null while the answer goes on).</summary>
    private void EndSyntheticChunk(string? finishReason)
    {
        _writer.WriteString(OpenAIChunk.FinishReason, finishReason);
        _writer.WriteEndObject();
        _writer.WriteEndArray();
        _writer.WriteEndObject();
        _writer.Flush();
        _output.Write(EventEnd);
    }

    /// <summary>
    /// An event while the tool-call repair is deciding: the first choice's content is what the repair lets through (the
    /// delta as it came, the text it releases, or nothing while it holds). When the event finishes the answer, its text goes
    /// first, then the repair's verdict (released text, or the repaired calls), then the event without its text, so text
    /// and tool calls never share a delta and the finish reason comes last.
    /// </summary>
    private void RelayWithRepair(JsonElement root)
    {
        var repair = _repair!;
        JsonElement delta = default;
        JsonElement finish = default;
        if (root.TryGetProperty("choices"u8, out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.ValueKind == JsonValueKind.Object)
                {
                    choice.TryGetProperty("delta"u8, out delta);
                    choice.TryGetProperty("finish_reason"u8, out finish);
                }

                break;
            }
        }

        var hasDelta = delta.ValueKind == JsonValueKind.Object;
        if (hasDelta && delta.TryGetProperty("tool_calls"u8, out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
        {
            // The upstream parsed real tool calls after all: whatever the repair held is plain text, and goes first.
            repair.Stop();
            WriteTextChunk(repair.Released);
            WriteChunks(root);
            return;
        }

        var source = ContentSource.Upstream;
        if (hasDelta && delta.TryGetProperty("content"u8, out var content) && content.ValueKind == JsonValueKind.String
            && !content.ValueEquals(""u8) && !repair.Append(content))
        {
            source = ContentSource.Repair;
        }

        if (finish.ValueKind != JsonValueKind.String)
        {
            _content = source;
            WriteChunks(root);
            return;
        }

        if (source == ContentSource.Repair)
        {
            WriteTextChunk(repair.Released);
        }
        else if (hasDelta && delta.TryGetProperty("content"u8, out var text) && text.ValueKind == JsonValueKind.String && !text.ValueEquals(""u8))
        {
            BeginSyntheticChunk();
            _writer.WriteString("role"u8, "assistant"u8);
            _writer.WritePropertyName("content"u8);
            text.WriteTo(_writer);
            _writer.WriteEndObject();
            EndSyntheticChunk(null);
        }

        FinishRepair(finish.ValueEquals("length"u8));
        _content = ContentSource.None;
        WriteChunks(root);
    }

    private void WriteChunks(JsonElement root)
    {
        if (NeedsSplit(root))
        {
            WriteChunk(root, DeltaPart.TextOnly);
            WriteChunk(root, DeltaPart.ToolCallsOnly);
        }
        else
        {
            WriteChunk(root, DeltaPart.All);
        }
    }

    /// <summary>The content is complete: the repair's verdict goes out, as text it still held or as whole tool calls.</summary>
    private void FinishRepair(bool truncated)
    {
        var repair = _repair!;
        repair.Finish(truncated);
        WriteTextChunk(repair.Released);
        if (repair.Calls.Count == 0)
        {
            return;
        }

        // One delta with every call whole: each carries its id (Copilot groups by id), its name and its arguments.
        BeginSyntheticChunk();
        _writer.WriteString("role"u8, "assistant"u8);
        _writer.WriteStartArray("tool_calls"u8);
        foreach (var call in repair.Calls)
        {
            _writer.WriteStartObject();
            _writer.WriteNumber("index"u8, _toolCallIds.Count);
            _writer.WriteString("id"u8, call.Id);
            _writer.WriteString("type"u8, "function"u8);
            _writer.WriteStartObject("function"u8);
            _writer.WriteString("name"u8, call.Name);
            _writer.WriteString("arguments"u8, call.Arguments);
            _writer.WriteEndObject();
            _writer.WriteEndObject();
            _toolCallIds.Add(call.Id);
        }

        _writer.WriteEndArray();
        _writer.WriteEndObject();
        EndSyntheticChunk(null);
        _repairedCalls += repair.Calls.Count;
        _telemetry?.RecordRepairedToolCalls(repair.Calls.Count);
    }

    private void WriteTextChunk(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        BeginSyntheticChunk();
        _writer.WriteString("role"u8, "assistant"u8);
        _writer.WriteString("content"u8, text);
        _writer.WriteEndObject();
        EndSyntheticChunk(null);
    }

    /// <summary>Nothing held back is lost on a failure: the text the repair was still deciding about goes out first.</summary>
    private void ReleaseHeldText()
    {
        if (_repair is { Active: true } repair)
        {
            repair.Stop();
            WriteTextChunk(repair.Released);
        }
    }
}
