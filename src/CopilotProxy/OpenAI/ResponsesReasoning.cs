using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Reasoning written as text in a streamed Responses answer: the first message item's <c>output_text.delta</c>s go through
/// a <see cref="ReasoningSplitter"/>, and the stream is rewritten into the one an upstream that separates reasoning sends:
/// from the message's <c>output_index</c> on, a <c>reasoning</c> item (a <c>reasoning_text</c> part,
/// <c>response.reasoning_text.delta</c>s as they arrive) for each run of reasoning and a message for each run of answer
/// text, in the order written, every later item moved up by the items added, and the final event's <c>output</c> listing
/// the same items. This is the shape of a whole answer's items (<see cref="ReasoningAnswers"/>) and of OpenAI's
/// reasoning-text events.
/// </summary>
/// <remarks>
/// A message's <c>output_item.added</c> and <c>content_part.added</c> wait for its first answer text, so an answer that is
/// only reasoning has no empty message. Reasoning after the answer text began (Gemma's or harmony's later thoughts) closes
/// the message and opens the next reasoning item: reasoning, message, reasoning, message. The first message keeps the
/// upstream's id, later ones get their own. Sequence numbers of added events are placeholders: the relay renumbers every
/// event of a rewritten stream.
/// </remarks>
public sealed partial class ResponsesReasoning(ReasoningSplitter splitter) : IEventStreamReasoning
{
    private enum Item
    {
        None,
        Reasoning,
        Message,
    }

    private readonly List<byte[]> _events = [];
    private readonly ArrayBufferWriter<byte> _reasoning = new();
    private readonly ArrayBufferWriter<byte> _text = new();

    // The items the proxy closed itself, as output_item.done carried them, for the final event's output.
    private readonly List<byte[]> _closed = [];
    private string _reasoningId = "";
    private int _index = -1;
    private int _contentIndex = -1;
    private string? _messageId;
    private string? _itemId;
    private byte[]? _itemAdded;
    private byte[]? _partAdded;
    private byte[]? _deltaTemplate;
    private bool _split;
    private bool _done;
    private bool _thinking;
    private Item _open;
    private int _items;
    private int _shift;
    private int _messages;

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
            case "response.content_part.added" when message && !_split && _contentIndex < 0 && _items == 0:
                _contentIndex = Int(root, "content_index"u8);
                _partAdded = Raw(root);
                return true;
            case "response.output_text.delta" when message && !_split && Int(root, "content_index"u8) == _contentIndex:
                if (!root.TryGetMember("delta"u8, out var delta) || delta.ValueKind != JsonValueKind.String)
                {
                    Open(Item.Message);
                    _events.Add(Rewritten(root, Current, replace: false));
                    return true;
                }

                // The template for text the splitter cuts: the delta's fields without its text (which may be one huge delta).
                _deltaTemplate ??= Rewritten(root, index, replace: true);
                var bytes = System.Text.Encoding.UTF8.GetBytes(delta.GetString()!);
                if (bytes.Length == 0)
                {
                    // An empty delta decides nothing: dropped before a message is announced (it can't go first), else moved with it.
                    if (_open == Item.Message)
                    {
                        _events.Add(Rewritten(root, Current, replace: false));
                    }

                    return true;
                }

                switch (splitter.Append(bytes))
                {
                    case ReasoningStep.Content when !_thinking && !Changed:
                        // The common case, an answer with no reasoning: the delta goes as it came, not copied and parsed again.
                        Open(Item.Message);
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
            case "response.completed" or "response.incomplete" or "response.failed" when _index >= 0 && (!_split || _thinking || Changed):
                if (!_split)
                {
                    // Cut off before the text's end: what is held goes out, the reasoning item ends, the message stays unclosed.
                    Finish();
                }

                _done = true;

                // Markers taken out with no reasoning in them (<think></think>) changed the text all the same.
                _events.Add(_thinking || Changed ? WithOutput(root) : Raw(root));
                return true;
            case not null when message:
                // Another event of the message (an annotation, a second part): it follows the answer text, wherever that went.
                Open(Item.Message);
                _events.Add(Rewritten(root, Current, replace: false));
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

    /// <summary>The output index of the item opened last.</summary>
    private int Current => _index + Math.Max(_items, 1) - 1;

    /// <summary>True once the text differs from the upstream's: its events' text is then the answer's.</summary>
    private bool Changed => splitter.Found is not null;

    private void Parts()
    {
        for (var p = 0; p < splitter.PartCount; p++)
        {
            var part = splitter.Part(p, out var reasoning);
            if (reasoning)
            {
                Thinking(part);
            }
            else
            {
                Text(part, null);
            }
        }
    }

    /// <summary>The message's text ended: the held rest is decided, an open reasoning item closes, and later items move by the items added.</summary>
    private void Finish()
    {
        _split = true;
        splitter.Finish();
        Parts();
        if (_items == 0)
        {
            // Nothing was taken out: the (empty) message goes as it came.
            Open(Item.Message);
        }

        if (_open == Item.Reasoning)
        {
            Open(Item.None);
        }

        _shift = _items - 1;
    }

    /// <summary>One of the upstream message's closing events: for the message still open, or dropped when the answer ended in reasoning.</summary>
    private void WriteMessageEvent(JsonElement root)
    {
        if (_open == Item.Message)
        {
            _events.Add(Rewritten(root, Current, replace: Changed));
        }
    }

    private void Thinking(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        Open(Item.Reasoning);
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

        Open(Item.Message);
        _text.Write(text);
        if (whole is { } root || _deltaTemplate is null)
        {
            if (whole is { } upstream)
            {
                _events.Add(Rewritten(upstream, Current, replace: false));
            }

            return;
        }

        using var template = JsonDocument.Parse(_deltaTemplate!);
        _events.Add(Rewritten(template.RootElement, Current, replace: true, text));
    }

    /// <summary>Makes <paramref name="kind"/> the open item: the open one of another kind is closed, and a new one announced.</summary>
    private void Open(Item kind)
    {
        if (_open == kind)
        {
            return;
        }

        if (_open == Item.Reasoning)
        {
            CloseReasoning();
        }
        else if (_open == Item.Message)
        {
            CloseMessage();
        }

        _open = kind;
        if (kind == Item.None)
        {
            return;
        }

        _items++;
        if (kind == Item.Reasoning)
        {
            _thinking = true;
            _reasoningId = NewReasoningId();
            _reasoning.Clear();
            _events.Add(Event("response.output_item.added", writer =>
            {
                writer.WritePropertyName("item"u8);
                WriteReasoningItem(writer, _reasoningId, "in_progress"u8, []);
            }));
            _events.Add(Event("response.content_part.added", writer =>
            {
                writer.WriteString("item_id"u8, _reasoningId);
                writer.WriteNumber("content_index"u8, 0);
                WritePart(writer, "reasoning_text"u8, []);
            }));
            return;
        }

        // The message's held announcements, once it has answer text; a message after the first is a new item with its own id.
        _itemId = _messages == 0 ? null : NewMessageId();
        _text.Clear();
        foreach (var held in (ReadOnlySpan<byte[]?>)[_itemAdded, _partAdded])
        {
            if (held is not null)
            {
                using var document = JsonDocument.Parse(held);
                _events.Add(Rewritten(document.RootElement, Current, replace: false));
            }
        }

        _messages++;
    }

    private static int Int(JsonElement root, ReadOnlySpan<byte> name) =>
        root.TryGetMember(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : -1;

    private static byte[] Raw(JsonElement root) => JsonMarshal.GetRawUtf8Value(root).ToArray();
}
