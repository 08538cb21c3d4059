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
/// a <c>thinking</c> block (<c>thinking_delta</c>s, as they arrive) at the text block's index, then the text block one
/// index later, and every later block moved up by one. The relay handles the rewritten events as the upstream's own (the
/// tool-call repair included).
/// </summary>
/// <remarks>
/// The text block's <c>content_block_start</c> waits for its first answer text, so an answer that is only reasoning has no
/// empty text block. Reasoning after the answer text began (Gemma's interleaved thoughts) stays in the text: a block
/// can't be reopened once the next one started.
/// </remarks>
public sealed class MessagesReasoning(ReasoningSplitter splitter) : IEventStreamReasoning
{
    private readonly List<byte[]> _events = [];
    private int _index = -1;
    private byte[]? _start;
    private bool _done;
    private bool _thinking;
    private bool _thinkingClosed;
    private bool _textStarted;
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
                    StartText();
                    _events.Add(Shifted(root, _index + TextShift));
                    return true;
                }

                var bytes = System.Text.Encoding.UTF8.GetBytes(text.GetString()!);
                switch (splitter.Append(bytes))
                {
                    case ReasoningStep.Content:
                        Text(bytes);
                        break;
                    case ReasoningStep.Reasoning:
                        Thinking(bytes);
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

    /// <summary>The stream broke inside the text block: what was held goes out, and the open blocks are closed.</summary>
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

    /// <summary>Where the text block's events go while it is streamed: one past the thinking block, if there is one.</summary>
    private int TextShift => _thinking ? 1 : 0;

    private void Parts()
    {
        for (var p = 0; p < splitter.PartCount; p++)
        {
            var part = splitter.Part(p, out var reasoning);
            if (reasoning && !_textStarted)
            {
                Thinking(part);
            }
            else
            {
                Text(part);
            }
        }
    }

    private void Stop()
    {
        splitter.Finish();
        Parts();
        CloseThinking();
        if (!_thinking && !_textStarted)
        {
            // Nothing was taken out: the empty block goes as it came.
            StartText();
        }

        if (_textStarted)
        {
            _events.Add(Event("content_block_stop", _index + TextShift, null));
        }

        _shift = _thinking && _textStarted ? 1 : 0;
        _done = true;
    }

    private void Thinking(ReadOnlySpan<byte> text)
    {
        if (_textStarted)
        {
            Text(text);
            return;
        }

        if (!_thinking)
        {
            _thinking = true;
            _events.Add(Event("content_block_start", _index, writer =>
            {
                writer.WriteStartObject("content_block"u8);
                writer.WriteString("type"u8, "thinking"u8);
                writer.WriteString("thinking"u8, ""u8);
                writer.WriteEndObject();
            }));
        }

        var copy = text.ToArray();
        _events.Add(Event("content_block_delta", _index, writer =>
        {
            writer.WriteStartObject("delta"u8);
            writer.WriteString("type"u8, "thinking_delta"u8);
            writer.WriteString("thinking"u8, copy);
            writer.WriteEndObject();
        }));
    }

    private void Text(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        CloseThinking();
        StartText();
        var copy = text.ToArray();
        _events.Add(Event("content_block_delta", _index + TextShift, writer =>
        {
            writer.WriteStartObject("delta"u8);
            writer.WriteString("type"u8, "text_delta"u8);
            writer.WriteString("text"u8, copy);
            writer.WriteEndObject();
        }));
    }

    private void CloseThinking()
    {
        if (_thinking && !_thinkingClosed)
        {
            _thinkingClosed = true;
            _events.Add(Event("content_block_stop", _index, null));
        }
    }

    private void StartText()
    {
        if (_textStarted || _start is null)
        {
            return;
        }

        _textStarted = true;
        using var document = JsonDocument.Parse(_start);
        _events.Add(Shifted(document.RootElement, _index + TextShift));
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
