using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Reasoning written as text in a streamed Messages answer: the first text block's deltas go through a
/// <see cref="ReasoningSplitter"/>, and the stream is rewritten into the one an upstream that separates reasoning sends:
/// from the text block's index on, a <c>thinking</c> block (<c>thinking_delta</c>s, as they arrive) for each run of
/// reasoning and a text block for each run of answer text, in the order the model wrote them, and every later block
/// moved up by the blocks added. The relay handles the rewritten events as the upstream's own (the tool-call repair
/// included).
/// </summary>
/// <remarks>
/// A text block's <c>content_block_start</c> waits for its first answer text, so an answer that is only reasoning has no
/// empty text block. Reasoning after the answer text began (Gemma's or harmony's later thoughts) closes the text block and
/// opens the next thinking block, as Anthropic's own interleaved thinking does: <c>thinking</c>, <c>text</c>,
/// <c>thinking</c>, <c>text</c>. Which spans are reasoning is the splitter's call alone (a <c>&lt;think&gt;</c> in prose stays text).
/// </remarks>
public sealed class MessagesReasoning(ReasoningSplitter splitter) : IEventStreamReasoning
{
    private enum Block
    {
        None,
        Thinking,
        Text,
    }

    private readonly List<byte[]> _events = [];
    private int _index = -1;
    private byte[]? _start;
    private bool _done;
    private Block _open;
    private int _blocks;
    private int _shift;

    /// <summary>The events that replace the last one given, in order.</summary>
    public IReadOnlyList<byte[]> Events => _events;

    /// <summary>The form taken out of the text, once one was.</summary>
    public ReasoningFormats? Found => splitter.Found;

    /// <summary>True when the event was replaced by <see cref="Events"/> (possibly none: a held start).</summary>
    public bool TryRewrite(string? type, JsonElement root)
    {
        _events.Clear();
        var index = root.TryGetMember("index"u8, out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var iv) ? iv : -1;
        switch (type)
        {
            case "content_block_start" when _index < 0 && !_done && splitter.Active:
                if (!root.TryGetMember("content_block"u8, out var block) || !block.TryGetMember("type"u8, out var blockType) || !blockType.IsString("text"u8))
                {
                    // A thinking block of the upstream's own (it separates reasoning), or a real tool call first: nothing to do.
                    _done = true;
                    return false;
                }

                _index = index;
                _start = JsonMarshal.GetRawUtf8Value(root).ToArray();
                return true;
            case "content_block_delta" when index == _index && index >= 0 && !_done:
                if (!root.TryGetMember("delta"u8, out var delta) || !delta.TryGetMember("text"u8, out var text) || text.ValueKind != JsonValueKind.String)
                {
                    Open(Block.Text);
                    _events.Add(Shifted(root, Current));
                    return true;
                }

                var bytes = System.Text.Encoding.UTF8.GetBytes(text.GetString()!);
                switch (splitter.Append(bytes))
                {
                    case ReasoningStep.Content:
                        Write(false, bytes);
                        break;
                    case ReasoningStep.Reasoning:
                        Write(true, bytes);
                        break;
                    default:
                        Parts();
                        break;
                }

                return true;
            case "content_block_stop" when index == _index && index >= 0 && !_done:
                Stop();
                return true;
            case "content_block_start" or "content_block_delta" or "content_block_stop" when _done && _shift != 0 && index > _index:
                _events.Add(Shifted(root, index + _shift));
                return true;
            default:
                return false;
        }
    }

    /// <summary>The stream broke inside the text block: what was held goes out, and the open block is closed.</summary>
    public bool Flush()
    {
        _events.Clear();
        if (_index < 0 || _done)
        {
            return false;
        }

        Stop();
        return true;
    }

    public void Dispose() => splitter.Dispose();

    /// <summary>The index of the block opened last.</summary>
    private int Current => _index + _blocks - 1;

    private void Parts()
    {
        for (var p = 0; p < splitter.PartCount; p++)
        {
            var part = splitter.Part(p, out var reasoning);
            Write(reasoning, part);
        }
    }

    private void Stop()
    {
        splitter.Finish();
        Parts();
        if (_blocks == 0)
        {
            // Nothing was taken out: the empty block goes as it came.
            Open(Block.Text);
        }

        Open(Block.None);
        _shift = _blocks - 1;
        _done = true;
    }

    /// <summary>A run of reasoning or answer text, in the block of its kind (a new one when the last was of the other kind).</summary>
    private void Write(bool reasoning, ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        Open(reasoning ? Block.Thinking : Block.Text);
        var copy = text.ToArray();
        _events.Add(Event("content_block_delta", Current, writer =>
        {
            writer.WriteStartObject("delta"u8);
            writer.WriteString("type"u8, reasoning ? "thinking_delta"u8 : "text_delta"u8);
            writer.WriteString(reasoning ? "thinking"u8 : "text"u8, copy);
            writer.WriteEndObject();
        }));
    }

    /// <summary>Makes <paramref name="kind"/> the open block: the open one of another kind is stopped, and a new one started.</summary>
    private void Open(Block kind)
    {
        if (_open == kind)
        {
            return;
        }

        if (_open != Block.None)
        {
            _events.Add(Event("content_block_stop", Current, null));
        }

        _open = kind;
        if (kind == Block.None)
        {
            return;
        }

        _blocks++;
        if (kind == Block.Text)
        {
            using var document = JsonDocument.Parse(_start!);
            _events.Add(Shifted(document.RootElement, Current));
            return;
        }

        _events.Add(Event("content_block_start", Current, writer =>
        {
            writer.WriteStartObject("content_block"u8);
            writer.WriteString("type"u8, "thinking"u8);
            writer.WriteString("thinking"u8, ""u8);
            writer.WriteEndObject();
        }));
    }

    private static byte[] Event(string type, int index, Action<Utf8JsonWriter>? body)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            writer.WriteNumber("index"u8, index);
            body?.Invoke(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Shifted(JsonElement root, int index)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            EventStreamRelay.WriteWithIndex(writer, root, index);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
