using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Reasoning written as text in a streamed Responses or Messages answer: a rewrite of the upstream's events that
/// <see cref="EventStreamRelay"/> replays as if the upstream had sent them (so the tool-call repair sees only the answer).
/// </summary>
public interface IEventStreamReasoning : IDisposable
{
    /// <summary>The events that replace the last one given, in order.</summary>
    IReadOnlyList<byte[]> Events { get; }

    /// <summary>The form taken out of the text, once one was.</summary>
    ReasoningFormats? Found { get; }

    /// <summary>
    /// True when the event was replaced by <see cref="Events"/> (possibly none: a held start); false when it goes on as it
    /// came, after <see cref="Events"/> (what it released that was held).
    /// </summary>
    bool TryRewrite(string? type, JsonElement root);

    /// <summary>The stream broke inside the text: true when what was held, and the reasoning's end, are in <see cref="Events"/>.</summary>
    bool Flush();
}

/// <summary>
/// Reasoning written as text in a streamed Responses answer: the first message item's <c>output_text.delta</c>s go through
/// a <see cref="ReasoningSplitter"/>, and the stream is rewritten into the one an upstream that separates reasoning sends:
/// a <c>reasoning</c> item (a <c>reasoning_text</c> part, <c>response.reasoning_text.delta</c>s as they arrive) at the
/// message's <c>output_index</c>, then the message one index later with only the answer text, every later item moved up
/// by one, and the final event's <c>output</c> listing the same items. This is the shape of a whole answer's reasoning
/// item (<see cref="ReasoningAnswers"/>) and of OpenAI's reasoning-text events.
/// </summary>
/// <remarks>
/// The message's <c>output_item.added</c> and <c>content_part.added</c> wait for its first answer text, so an answer that is
/// only reasoning has no empty message. Sequence numbers of added events are placeholders: the relay renumbers every
/// event of a rewritten stream. Reasoning after the answer text began stays in the text: an item can't be reopened once
/// the next one started.
/// </remarks>
public sealed class ResponsesReasoning(ReasoningSplitter splitter) : IEventStreamReasoning
{
    private readonly List<byte[]> _events = [];
    private readonly string _reasoningId = "rs_" + Guid.NewGuid().ToString("N")[..24];
    private readonly ArrayBufferWriter<byte> _reasoning = new();
    private readonly ArrayBufferWriter<byte> _text = new();
    private int _index = -1;
    private int _contentIndex = -1;
    private string? _messageId;
    private byte[]? _itemAdded;
    private byte[]? _partAdded;
    private byte[]? _deltaTemplate;
    private bool _split;
    private bool _done;
    private bool _thinking;
    private bool _thinkingClosed;
    private bool _textStarted;
    private int _shift;

    public IReadOnlyList<byte[]> Events => _events;

    public ReasoningFormats? Found => splitter.Found;

    public bool TryRewrite(string? type, JsonElement root)
    {
        _events.Clear();
        var index = Int(root, "output_index"u8);
        var message = index == _index && index >= 0 && !_done;
        switch (type)
        {
            case "response.output_item.added" when _index < 0 && !_done && splitter.Active:
                if (!root.TryGetMember("item"u8, out var item) || !item.TryGetMember("type"u8, out var itemType) || !itemType.IsString("message"u8) || index < 0)
                {
                    // A reasoning item of the upstream's own (it separates reasoning), or a real call first: nothing to do.
                    _done = true;
                    return false;
                }

                _index = index;
                _messageId = item.TryGetMember("id"u8, out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
                _itemAdded = Raw(root);
                return true;
            case "response.content_part.added" when message && !_split && _contentIndex < 0 && !_textStarted:
                _contentIndex = Int(root, "content_index"u8);
                _partAdded = Raw(root);
                return true;
            case "response.output_text.delta" when message && !_split && Int(root, "content_index"u8) == _contentIndex:
                if (!root.TryGetMember("delta"u8, out var delta) || delta.ValueKind != JsonValueKind.String)
                {
                    StartText();
                    _events.Add(Rewritten(root, TextIndex, replace: false));
                    return true;
                }

                // The template for text the splitter cuts: the delta's fields without its text (which may be one huge delta).
                _deltaTemplate ??= Rewritten(root, index, replace: true);
                var bytes = System.Text.Encoding.UTF8.GetBytes(delta.GetString()!);
                switch (splitter.Append(bytes))
                {
                    case ReasoningStep.Content when !_thinking && !Changed:
                        // The common case, an answer with no reasoning: the delta goes as it came, not copied and parsed again.
                        StartText();
                        _text.Write(bytes);
                        return false;
                    case ReasoningStep.Content:
                        Text(bytes, root);
                        break;
                    case ReasoningStep.Reasoning:
                        Thinking(bytes);
                        break;
                    default:
                        Parts();
                        break;
                }

                return true;
            case "response.output_text.done" when message && !_split && Int(root, "content_index"u8) == _contentIndex:
                Finish();
                WriteMessageEvent(root);
                return true;
            case "response.content_part.done" or "response.output_item.done" when message && _split:
                WriteMessageEvent(root);
                _done = type == "response.output_item.done";
                return true;
            case "response.completed" or "response.incomplete" or "response.failed" when _index >= 0 && (!_split || _thinking):
                if (!_split)
                {
                    // Cut off before the text's end: what is held goes out, the reasoning item ends, the message stays unclosed.
                    Finish();
                }

                _done = true;
                _events.Add(_thinking ? WithOutput(root) : Raw(root));
                return true;
            case not null when message:
                // Another event of the message (an annotation, a second part): it follows the answer text, wherever that went.
                StartText();
                _events.Add(Rewritten(root, _split ? _index + _shift : TextIndex, replace: false));
                return true;
            case not null when _split && _shift != 0 && index > _index:
                _events.Add(Rewritten(root, index + _shift, replace: false));
                return true;
            default:
                return false;
        }
    }

    public bool Flush()
    {
        _events.Clear();
        if (_index < 0 || _split)
        {
            return false;
        }

        Finish();
        return true;
    }

    public void Dispose() => splitter.Dispose();

    /// <summary>Where the message's events go while it is streamed: one past the reasoning item, if there is one.</summary>
    private int TextIndex => _index + (_thinking ? 1 : 0);

    /// <summary>True once the text differs from the upstream's: its events' text is then the answer's.</summary>
    private bool Changed => splitter.Found is not null;

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
                Text(part, null);
            }
        }
    }

    /// <summary>The message's text ended: the held rest is decided, the reasoning item closes, and later items move by one if both stay.</summary>
    private void Finish()
    {
        _split = true;
        splitter.Finish();
        Parts();
        CloseThinking();
        if (!_thinking && !_textStarted)
        {
            // Nothing was taken out: the (empty) message goes as it came.
            StartText();
        }

        _shift = _thinking && _textStarted ? 1 : 0;
    }

    /// <summary>One of the message's closing events: at its new index with the answer text, or dropped when it had none.</summary>
    private void WriteMessageEvent(JsonElement root)
    {
        if (_textStarted)
        {
            _events.Add(Rewritten(root, _index + _shift, replace: Changed));
        }
    }

    private void Thinking(ReadOnlySpan<byte> text)
    {
        if (_textStarted)
        {
            Text(text, null);
            return;
        }

        if (!_thinking)
        {
            _thinking = true;
            _events.Add(Event("response.output_item.added", writer =>
            {
                writer.WritePropertyName("item"u8);
                WriteReasoningItem(writer, "in_progress"u8, []);
            }));
            _events.Add(Event("response.content_part.added", writer =>
            {
                writer.WriteString("item_id"u8, _reasoningId);
                writer.WriteNumber("content_index"u8, 0);
                WritePart(writer, []);
            }));
        }

        _reasoning.Write(text);
        var copy = text.ToArray();
        _events.Add(Event("response.reasoning_text.delta", writer =>
        {
            writer.WriteString("item_id"u8, _reasoningId);
            writer.WriteNumber("content_index"u8, 0);
            writer.WriteString("delta"u8, copy);
        }));
    }

    /// <summary>Answer text: the upstream's delta as it came (<paramref name="whole"/>), or a copy of it carrying <paramref name="text"/>.</summary>
    private void Text(ReadOnlySpan<byte> text, JsonElement? whole)
    {
        if (text.IsEmpty)
        {
            return;
        }

        StartText();
        _text.Write(text);
        if (whole is { } root || _deltaTemplate is null)
        {
            if (whole is { } upstream)
            {
                _events.Add(Rewritten(upstream, TextIndex, replace: false));
            }

            return;
        }

        using var template = JsonDocument.Parse(_deltaTemplate!);
        _events.Add(Rewritten(template.RootElement, TextIndex, replace: true, text));
    }

    private void CloseThinking()
    {
        if (!_thinking || _thinkingClosed)
        {
            return;
        }

        _thinkingClosed = true;
        _events.Add(Event("response.reasoning_text.done", writer =>
        {
            writer.WriteString("item_id"u8, _reasoningId);
            writer.WriteNumber("content_index"u8, 0);
            writer.WriteString("text"u8, _reasoning.WrittenSpan);
        }));
        _events.Add(Event("response.content_part.done", writer =>
        {
            writer.WriteString("item_id"u8, _reasoningId);
            writer.WriteNumber("content_index"u8, 0);
            WritePart(writer, _reasoning.WrittenSpan);
        }));
        _events.Add(Event("response.output_item.done", writer =>
        {
            writer.WritePropertyName("item"u8);
            WriteReasoningItem(writer, "completed"u8, _reasoning.WrittenSpan);
        }));
    }

    /// <summary>The message's held announcements, once it has answer text (after the reasoning item's end).</summary>
    private void StartText()
    {
        if (_textStarted)
        {
            return;
        }

        CloseThinking();
        _textStarted = true;
        foreach (var held in (ReadOnlySpan<byte[]?>)[_itemAdded, _partAdded])
        {
            if (held is not null)
            {
                using var document = JsonDocument.Parse(held);
                _events.Add(Rewritten(document.RootElement, TextIndex, replace: false));
            }
        }
    }

    private void WriteReasoningItem(Utf8JsonWriter writer, ReadOnlySpan<byte> status, ReadOnlySpan<byte> text)
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, _reasoningId);
        writer.WriteString("type"u8, "reasoning"u8);
        writer.WriteString("status"u8, status);
        writer.WriteStartArray("summary"u8);
        writer.WriteEndArray();
        writer.WriteStartArray("content"u8);
        if (status.SequenceEqual("completed"u8))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "reasoning_text"u8);
            writer.WriteString("text"u8, text);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WritePart(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        writer.WriteStartObject("part"u8);
        writer.WriteString("type"u8, "reasoning_text"u8);
        writer.WriteString("text"u8, text);
        writer.WriteEndObject();
    }

    /// <summary>An event of the reasoning item, at the message's old index (the relay renumbers its sequence).</summary>
    private byte[] Event(string type, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            writer.WriteNumber("sequence_number"u8, 0);
            writer.WriteNumber("output_index"u8, _index);
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The upstream's event at <paramref name="index"/>; with <paramref name="replace"/>, its <c>delta</c> is
    /// <paramref name="text"/> and its <c>text</c> (also inside <c>part</c> and <c>item</c>) is the answer text so far.
    /// </summary>
    private byte[] Rewritten(JsonElement root, int index, bool replace, ReadOnlySpan<byte> text = default)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals("output_index"u8))
                {
                    writer.WriteNumber("output_index"u8, index);
                }
                else if (replace && property.NameEquals("delta"u8))
                {
                    writer.WriteString("delta"u8, text);
                }
                else if (replace && property.NameEquals("text"u8) && property.Value.ValueKind == JsonValueKind.String)
                {
                    writer.WriteString("text"u8, _text.WrittenSpan);
                }
                else if (replace && (property.NameEquals("part"u8) || property.NameEquals("item"u8)) && property.Value.ValueKind == JsonValueKind.Object)
                {
                    writer.WritePropertyName(property.Name);
                    EventStreamRelay.WriteWithText(property.Value, writer, _text.WrittenSpan);
                }
                else
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The final event with its <c>output</c> as streamed: the reasoning item in the message's place, then the message with the answer text.</summary>
    private byte[] WithOutput(JsonElement root)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (!property.NameEquals("response"u8) || property.Value.ValueKind != JsonValueKind.Object)
                {
                    property.WriteTo(writer);
                    continue;
                }

                writer.WriteStartObject("response"u8);
                foreach (var field in property.Value.EnumerateObject())
                {
                    if (!field.NameEquals("output"u8) || field.Value.ValueKind != JsonValueKind.Array)
                    {
                        field.WriteTo(writer);
                        continue;
                    }

                    writer.WriteStartArray("output"u8);
                    var position = 0;
                    foreach (var item in field.Value.EnumerateArray())
                    {
                        var isMessage = _messageId is not null
                            ? item.TryGetMember("id"u8, out var id) && id.ValueKind == JsonValueKind.String && id.ValueEquals(_messageId)
                            : position == _index;
                        position++;
                        if (!isMessage)
                        {
                            item.WriteTo(writer);
                            continue;
                        }

                        WriteReasoningItem(writer, "completed"u8, _reasoning.WrittenSpan);
                        if (_textStarted && item.ValueKind == JsonValueKind.Object)
                        {
                            EventStreamRelay.WriteWithText(item, writer, _text.WrittenSpan);
                        }
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static int Int(JsonElement root, ReadOnlySpan<byte> name) =>
        root.TryGetMember(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : -1;

    private static byte[] Raw(JsonElement root) => JsonMarshal.GetRawUtf8Value(root).ToArray();
}
