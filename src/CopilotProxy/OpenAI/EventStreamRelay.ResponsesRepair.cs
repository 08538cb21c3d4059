using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The tool-call repair on a Responses stream: the first message item's <c>output_text.delta</c>s go through the repair, so
/// text is sent as it comes and held only from where a call could begin; a call written as text leaves as
/// <c>function_call</c> output items, and <c>response.completed</c> lists what the client actually got. When reasoning
/// taken out of the text closed that message, the repair goes on in the next message after the reasoning item.
/// </summary>
/// <remarks>
/// The message item's <c>output_item.added</c> and <c>content_part.added</c> wait for its first released text, so an answer
/// that is only a call never announces an empty message. While text is held at the item's end, its three closing events wait
/// for the final event: only <c>response.incomplete</c> (or status <c>incomplete</c>) says whether the token limit cut the
/// call off. Because events are added and dropped, every <c>sequence_number</c> is renumbered in order as it is written;
/// a stream with nothing to repair keeps the upstream's numbers.
/// </remarks>
public sealed partial class EventStreamRelay
{
    private bool _sequenceSeeded;
    private int _messageIndex = -1;
    private string? _messageId;
    private int _contentIndex = -1;
    private bool _messageStarted;
    private bool _settled;
    private bool _messageEnded;
    private long _releasedBytes;
    private byte[]? _deltaTemplate;
    private byte[] _releasedText = [];
    private IReadOnlyList<RepairedToolCall> _responseCalls = [];
    private readonly List<(string Type, byte[] Data)> _announce = [];
    private readonly List<(string Type, byte[] Data)> _closing = [];

    /// <summary>Responses with a repair or reasoning to take out: every event is written here, because its sequence number may change.</summary>
    private bool Renumbers => api == EventApi.Responses && (repair is not null || Reasoning is not null);

    private enum Replace
    {
        None,
        Delta,
        Text,
    }

    /// <summary>Relays one event of a Responses stream whose request offered tools, or whose reasoning is taken out of its text.</summary>
    private void RelayResponses(string? type, JsonElement root)
    {
        if (repair is null)
        {
            // No tools offered: only the reasoning's rewrite added events, and the numbering is all that changes.
            WriteResponseEvent(type, root, Replace.None, default);
            return;
        }

        var outputIndex = Int(root, "output_index"u8);
        var target = _messageIndex >= 0 && !_settled && outputIndex == _messageIndex;
        var terminal = type is "response.completed" or "response.incomplete" or "response.failed";
        if (_closing.Count > 0 && !terminal && !(target && type is "response.output_text.done" or "response.content_part.done" or "response.output_item.done"))
        {
            // The answer went on after the message: it was not cut off. A real call, or more of the same item, ends the repair.
            SettleResponses(truncated: false, stop: target || IsItem(type, root, "function_call"u8));
            target = false;
        }

        if (_messageEnded && FollowsMessage(type, root, outputIndex))
        {
            return;
        }

        switch (type)
        {
            case "response.output_item.added" when IsItem(type, root, "message"u8) && _messageIndex < 0 && repair!.Active:
                _messageIndex = outputIndex;
                _messageId = ItemId(root);
                _announce.Add((type, Raw(root)));
                return;
            case "response.output_item.added" when IsItem(type, root, "function_call"u8) && repair!.Active:
                // The upstream's parser found a real call: the answer's text is not repaired around it.
                if (_messageIndex >= 0 && !_settled)
                {
                    SettleResponses(truncated: false, stop: true);
                }
                else
                {
                    repair.Stop();
                }

                break;
            case "response.content_part.added" when target && _contentIndex < 0 && !_messageStarted:
                _contentIndex = Int(root, "content_index"u8);
                _announce.Add((type, Raw(root)));
                return;
            case "response.output_text.delta" when target && Int(root, "content_index"u8) == _contentIndex && repair!.Active:
                if (!root.TryGetProperty("delta"u8, out var delta) || delta.ValueKind != JsonValueKind.String)
                {
                    Announce();
                    break;
                }

                if (repair.Append(delta))
                {
                    Announce();
                    _releasedBytes += Utf8Length(delta);
                    break;
                }

                WriteReleased(root);
                if (repair.Holding)
                {
                    _deltaTemplate = Raw(root);
                }

                return;
            case "response.output_text.done" or "response.content_part.done" or "response.output_item.done" when target:
                if (repair!.Holding || _closing.Count > 0)
                {
                    _closing.Add((type, Raw(root)));
                    return;
                }

                // Nothing held: the text was all released as it came (or the item had none); the item closes as it was.
                Announce();
                _settled = type == "response.output_item.done";
                if (Reasoning is null)
                {
                    repair.Stop();
                }
                else
                {
                    // Reasoning written as text may have closed this message to open a reasoning item: the answer's next
                    // message continues the same text, so the repair waits for it (FollowsMessage).
                    _messageEnded = _settled;
                }

                break;
            case "response.completed" or "response.incomplete" or "response.failed" when _messageIndex >= 0 && !_settled:
                var truncated = type == "response.incomplete" || (root.TryGetProperty("response"u8, out var response)
                    && response.ValueKind == JsonValueKind.Object && response.TryGetProperty("status"u8, out var status)
                    && status.ValueKind == JsonValueKind.String && status.ValueEquals("incomplete"u8));
                SettleResponses(truncated, stop: type == "response.failed");
                break;
            case "error":
                ReleaseHeld();
                break;
            default:
                break;
        }

        WriteResponseEvent(type, root, Replace.None, default);
    }

    /// <summary>
    /// After the repaired message ended: reasoning items pass, and the next message continues the repair's text (true: its
    /// announcements wait for released text, as the first one's did); another item or the end of the answer ends the repair.
    /// </summary>
    private bool FollowsMessage(string? type, JsonElement root, int outputIndex)
    {
        if (type is not ("response.output_item.added" or "response.completed" or "response.incomplete" or "response.failed") || IsItem(type, root, "reasoning"u8))
        {
            return false;
        }

        _messageEnded = false;
        if (!IsItem(type, root, "message"u8) || !repair!.Active)
        {
            repair!.Stop();
            return false;
        }

        _messageIndex = outputIndex;
        _messageId = ItemId(root);
        _contentIndex = -1;
        _messageStarted = false;
        _settled = false;
        _releasedBytes = 0;
        _deltaTemplate = null;
        _announce.Add((type, Raw(root)));
        return true;
    }

    /// <summary>Decides the held text: its rest as text and the item's end as it was, or the calls as function_call items.</summary>
    private void SettleResponses(bool truncated, bool stop)
    {
        _settled = true;
        if (stop)
        {
            repair!.Stop();
        }
        else
        {
            repair!.Finish(truncated);
        }

        if (_deltaTemplate is { } template)
        {
            using var document = JsonDocument.Parse(template);
            WriteReleased(document.RootElement);
        }

        var calls = repair.Calls;
        if (calls.Count > 0 && _messageStarted)
        {
            // Released text is always a prefix of the item's text: the calls were its held end.
            var full = _closing.FirstOrDefault(e => e.Type == "response.output_text.done").Data is { } done ? DoneText(done) : [];
            _releasedText = full.AsSpan(0, (int)Math.Min(_releasedBytes, full.Length)).ToArray();
        }

        if (calls.Count == 0 || _messageStarted)
        {
            if (_closing.Count > 0)
            {
                Announce();
            }

            foreach (var (type, data) in _closing)
            {
                using var document = JsonDocument.Parse(data);
                WriteResponseEvent(type, document.RootElement, calls.Count > 0 ? Replace.Text : Replace.None, _releasedText);
            }
        }

        _closing.Clear();
        _announce.Clear();
        var next = _messageStarted ? _messageIndex + 1 : _messageIndex;
        foreach (var call in calls)
        {
            WriteCallEvents(call, next++);
        }

        _responseCalls = calls;
        RepairedToolCalls += calls.Count;
        _indexShift = next - (_messageIndex + 1);
    }

    /// <summary>Writes what the repair released, in a delta shaped like <paramref name="template"/>, announcing the item first.</summary>
    private void WriteReleased(JsonElement template)
    {
        var released = repair!.Released;
        if (released.IsEmpty)
        {
            return;
        }

        Announce();
        _releasedBytes += released.Length;
        WriteResponseEvent("response.output_text.delta", template, Replace.Delta, released);
    }

    /// <summary>The message item's held <c>output_item.added</c> and <c>content_part.added</c>, once it has text to show.</summary>
    private void Announce()
    {
        if (_messageStarted || _messageIndex < 0)
        {
            return;
        }

        _messageStarted = true;
        foreach (var (type, data) in _announce)
        {
            using var document = JsonDocument.Parse(data);
            WriteResponseEvent(type, document.RootElement, Replace.None, default);
        }

        _announce.Clear();
    }

    /// <summary>The first upstream sequence number starts the count, so a stream with nothing to repair keeps its numbers.</summary>
    private void SeedSequence(long first)
    {
        if (!_sequenceSeeded)
        {
            _sequenceSeeded = true;
            _nextSequence = first;
        }
    }

    private static bool IsItem(string? type, JsonElement root, ReadOnlySpan<byte> itemType) =>
        type == "response.output_item.added" && root.TryGetProperty("item"u8, out var item) && item.ValueKind == JsonValueKind.Object
        && item.TryGetProperty("type"u8, out var t) && t.ValueKind == JsonValueKind.String && t.ValueEquals(itemType);

    private static string? ItemId(JsonElement root) =>
        root.TryGetMember("item"u8, out var item) && item.TryGetMember("id"u8, out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;

    private static int Int(JsonElement root, ReadOnlySpan<byte> name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : -1;

    private static byte[] Raw(JsonElement root) => JsonMarshal.GetRawUtf8Value(root).ToArray();

    /// <summary>The unescaped UTF-8 length of a JSON string, without decoding it in the common case of no escapes.</summary>
    private static int Utf8Length(JsonElement text)
    {
        var raw = JsonMarshal.GetRawUtf8Value(text);
        return raw.IndexOf((byte)'\\') < 0 ? raw.Length - 2 : Encoding.UTF8.GetByteCount(text.GetString()!);
    }

    private static byte[] DoneText(byte[] done)
    {
        using var document = JsonDocument.Parse(done);
        return document.RootElement.TryGetProperty("text"u8, out var text) && text.ValueKind == JsonValueKind.String
            ? Encoding.UTF8.GetBytes(text.GetString()!)
            : [];
    }
}
