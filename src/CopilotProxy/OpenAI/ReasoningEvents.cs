using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Buffers;
using CopilotProxy.Reasoning;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Runs the first choice's text of a chat-completion stream through a <see cref="ReasoningSplitter"/>, and rewrites an
/// event whose text held reasoning into the events an upstream that separates reasoning would have sent: the reasoning
/// in <c>reasoning_content</c>, the answer in <c>content</c>. The relay or translation then handles those events as it
/// handles the upstream's own, so every front door shows the reasoning in its own field and the tool-call repair sees
/// only the answer text.
/// </summary>
/// <remarks>
/// Events whose text is plain answer text pass untouched (no copy). An event the splitter took apart becomes one event per
/// released part, in order: all but the last carry only their part; the last is the upstream event itself (its finish
/// reason, usage and other fields) with its text replaced. Only the events that hold a marker, or fall inside the
/// reasoning, are rewritten; they are a small part of a stream that is mostly answer.
/// </remarks>
public sealed class ReasoningEvents(ReasoningSplitter splitter) : IDisposable
{
    private readonly List<byte[]> _events = [];
    private bool _replaying;
    private readonly List<(bool Reasoning, byte[] Text)> _parts = [];
    private byte[]? _head;
    private byte[]? _first;

    /// <summary>A splitter over these forms for one answer; null when there are none to look for.</summary>
    public static ReasoningEvents? For(Configuration.ReasoningFormats formats, string model, Microsoft.Extensions.Logging.ILogger logger) =>
        formats == Configuration.ReasoningFormats.None ? null : new(new ReasoningSplitter(formats, model, logger));

    /// <summary>True while the splitter may still take something out of the text.</summary>
    public bool Active => splitter.Active;

    /// <summary>
    /// True when the next event is the upstream's own and the splitter may still take something out of it; false while
    /// the rewritten events go back through the stream's handler, which must not split them again.
    /// </summary>
    public bool Ready => !_replaying && splitter.Active;

    /// <summary>The form that was taken out of the text, once one was (for the request log and metrics).</summary>
    public Configuration.ReasoningFormats? Found => splitter.Found;

    /// <summary>The events that replace the last one given, in order; the caller handles each as an upstream event.</summary>
    public IReadOnlyList<byte[]> Events => _events;

    /// <summary>
    /// The fast path's check: <paramref name="quoted"/> is the first choice's <c>content</c> token in <paramref name="data"/>,
    /// quotes included. False: the event goes on as it is.
    /// </summary>
    public bool TryRewrite(ReadOnlySpan<byte> data, int contentStart, int contentEnd)
    {
        _events.Clear();
        var quoted = data[contentStart..contentEnd];
        if (quoted.Length <= 2)
        {
            return false;
        }

        var step = quoted.Contains((byte)'\\') ? AppendEscaped(quoted) : splitter.Append(quoted[1..^1]);
        switch (step)
        {
            case ReasoningStep.Content:
                return false;
            case ReasoningStep.Reasoning:
                // The whole text is reasoning: the same bytes, moved to reasoning_content.
                _events.Add([.. data[..contentStart], .. "\"\",\"reasoning_content\":"u8, .. quoted, .. data[contentEnd..]]);
                return true;
            default:
                using (var document = JsonDocument.Parse(data.ToArray()))
                {
                    CollectParts();
                    Rewrite(document.RootElement);
                }

                return true;
        }
    }

    /// <summary>The document path's check, over a parsed event. False: the event goes on as it is.</summary>
    public bool TryRewrite(JsonElement root)
    {
        _events.Clear();
        if (!FirstChoice(root, out var choice, out var delta))
        {
            return false;
        }

        // The head of added events comes from the stream's first event, but most streams never need one: keep the
        // event's bytes (a copy) and build the head only when a part is written (building it was ~2.5 µs a stream).
        _first ??= JsonMarshal.GetRawUtf8Value(root).ToArray();
        var finished = choice.TryGetMember(OpenAIChunk.FinishReason, out var finish) && finish.ValueKind == JsonValueKind.String;
        if (HasString(delta, OpenAIChunk.ReasoningContent) || HasString(delta, OpenAIChunk.Reasoning)
            || (delta.TryGetMember(OpenAIChunk.ToolCalls, out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0))
        {
            // The upstream separates reasoning itself, or parsed real tool calls: its fields stand as they are, and the
            // text held so far goes out first.
            if (!splitter.Finish())
            {
                return false;
            }

            CollectParts();
            WriteParts(_parts.Count);
            _events.Add(JsonMarshal.GetRawUtf8Value(root).ToArray());
            return true;
        }

        var step = delta.TryGetMember(OpenAIChunk.Content, out var content) && content.ValueKind == JsonValueKind.String && !content.ValueEquals(""u8)
            ? AppendEscaped(JsonMarshal.GetRawUtf8Value(content))
            : ReasoningStep.Content;
        if (step == ReasoningStep.Content)
        {
            // The text (if any) passed as it is, so nothing was held before it; at the finish, bytes held from earlier deltas
            // (a cut-off marker) go out before the event.
            if (!finished || !splitter.Finish())
            {
                return false;
            }

            CollectParts();
            WriteParts(_parts.Count);
            _events.Add(JsonMarshal.GetRawUtf8Value(root).ToArray());
            return true;
        }

        if (step == ReasoningStep.Reasoning)
        {
            _parts.Clear();
            _parts.Add((true, UnescapedBytes(content)));
        }
        else
        {
            CollectParts();
        }

        if (finished && splitter.Finish())
        {
            CollectParts(append: true);
        }

        Rewrite(root);
        return true;
    }

    /// <summary>A finish event without text: ends the splitter unless it holds something (false: the event needs the document path).</summary>
    public bool FinishUnheld()
    {
        if (Ready && !splitter.Holding)
        {
            splitter.Finish();
        }

        return !Ready || !splitter.Holding;
    }

    /// <summary>The answer ended (or failed) without a finish reason: what the splitter held, as events. False: nothing was held.</summary>
    public bool Flush()
    {
        _events.Clear();
        if (!splitter.Finish())
        {
            return false;
        }

        CollectParts();
        WriteParts(_parts.Count);
        return true;
    }

    /// <summary>
    /// The fast path: when the event's text held reasoning, its rewritten events go through <paramref name="stream"/>'s
    /// handler in its place. False: the event goes on as it is.
    /// </summary>
    public bool Replace(ReadOnlySpan<byte> data, int contentStart, int contentEnd, IUpstreamEventSink stream) =>
        Ready && contentStart >= 0 && TryRewrite(data, contentStart, contentEnd) && Replay(stream);

    /// <summary>The document path's <see cref="Replace(ReadOnlySpan{byte}, int, int, IUpstreamEventSink)"/>.</summary>
    public bool Replace(JsonElement root, IUpstreamEventSink stream) => Ready && TryRewrite(root) && Replay(stream);

    /// <summary>The answer ended or broke: text the splitter still held goes through <paramref name="stream"/>'s handler, on the side it was on.</summary>
    public void FlushTo(IUpstreamEventSink stream)
    {
        if (Ready && Flush())
        {
            Replay(stream);
        }
    }

    public void Dispose() => splitter.Dispose();

    private bool Replay(IUpstreamEventSink stream)
    {
        EventReplay.Run(stream, _events, ref _replaying);
        return true;
    }

    private ReasoningStep AppendEscaped(ReadOnlySpan<byte> quoted)
    {
        var reader = new Utf8JsonReader(quoted);
        reader.Read();
        if (!reader.ValueIsEscaped)
        {
            return splitter.Append(reader.ValueSpan);
        }

        var scratch = ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
        try
        {
            return splitter.Append(scratch.AsSpan(0, reader.CopyString(scratch)));
        }
        finally
        {
            SharedPool.Return(scratch);
        }
    }

    private static byte[] UnescapedBytes(JsonElement text) => System.Text.Encoding.UTF8.GetBytes(text.GetString()!);

    private void CollectParts(bool append = false)
    {
        if (!append)
        {
            _parts.Clear();
        }

        for (var i = 0; i < splitter.PartCount; i++)
        {
            var text = splitter.Part(i, out var reasoning);
            _parts.Add((reasoning, text.ToArray()));
        }
    }

    /// <summary>All parts but the last as events of their own; the last into the upstream event, whose text it replaces.</summary>
    private void Rewrite(JsonElement root)
    {
        _head ??= _first is null ? Head(root) : FirstHead();
        WriteParts(Math.Max(0, _parts.Count - 1));
        (bool Reasoning, byte[] Text) last = _parts.Count > 0 ? _parts[^1] : (false, []);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            var first = true;
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals(OpenAIChunk.Choices) && property.Value.ValueKind == JsonValueKind.Array)
                {
                    writer.WriteStartArray(OpenAIChunk.Choices);
                    foreach (var choice in property.Value.EnumerateArray())
                    {
                        WriteChoice(writer, choice, first ? last : null);
                        first = false;
                    }

                    writer.WriteEndArray();
                }
                else
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        _events.Add(buffer.WrittenSpan.ToArray());
    }

    private static void WriteChoice(Utf8JsonWriter writer, JsonElement choice, (bool Reasoning, byte[] Text)? part)
    {
        if (part is not { } text || choice.ValueKind != JsonValueKind.Object)
        {
            choice.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        foreach (var property in choice.EnumerateObject())
        {
            if ((property.NameEquals(OpenAIChunk.Delta) || property.NameEquals(OpenAIChunk.Message)) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WriteStartObject(property.Name);
                foreach (var field in property.Value.EnumerateObject())
                {
                    if (field.NameEquals(OpenAIChunk.Content))
                    {
                        writer.WriteString(OpenAIChunk.Content, text.Reasoning ? [] : text.Text);
                        if (text.Reasoning && text.Text.Length > 0)
                        {
                            writer.WriteString(OpenAIChunk.ReasoningContent, text.Text);
                        }
                    }
                    else
                    {
                        field.WriteTo(writer);
                    }
                }

                writer.WriteEndObject();
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>The first <paramref name="count"/> parts, each as an event of its own with the stream's id, created and model.</summary>
    private void WriteParts(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var (reasoning, text) = _parts[i];
            var buffer = new ArrayBufferWriter<byte>(64 + text.Length);
            buffer.Write((_head ??= FirstHead()) ?? "{\"choices\":["u8.ToArray());
            using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
            {
                writer.WriteStartObject();
                writer.WriteNumber(OpenAIChunk.Index, 0);
                writer.WriteStartObject(OpenAIChunk.Delta);
                writer.WriteString(OpenAIChunk.Content, reasoning ? [] : text);
                if (reasoning)
                {
                    writer.WriteString(OpenAIChunk.ReasoningContent, text);
                }

                writer.WriteEndObject();
                writer.WriteNull(OpenAIChunk.FinishReason);
                writer.WriteEndObject();
            }

            buffer.Write("]}"u8);
            _events.Add(buffer.WrittenSpan.ToArray());
        }
    }

    private byte[]? FirstHead()
    {
        using var document = _first is null ? null : JsonDocument.Parse(_first);
        return document is null ? null : Head(document.RootElement);
    }

    /// <summary><c>{"id":…,"object":…,"created":…,"model":…,"choices":[</c> from the stream's first event, for the events the proxy adds.</summary>
    private static byte[] Head(JsonElement root)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals(OpenAIChunk.Id) || property.NameEquals("object"u8) || property.NameEquals(OpenAIChunk.Created)
                    || property.NameEquals(OpenAIChunk.Model) || property.NameEquals("system_fingerprint"u8))
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteStartArray(OpenAIChunk.Choices);
            writer.Flush();
        }

        // Left open: the part's choice and "]}" follow.
        return buffer.WrittenSpan.ToArray();
    }

    private static bool FirstChoice(JsonElement root, out JsonElement choice, out JsonElement delta)
    {
        choice = default;
        delta = default;
        if (!root.TryGetMember(OpenAIChunk.Choices, out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
        {
            return false;
        }

        choice = choices[0];
        return choice.ValueKind == JsonValueKind.Object
            && ((choice.TryGetMember(OpenAIChunk.Delta, out delta) && delta.ValueKind == JsonValueKind.Object)
                || (choice.TryGetMember(OpenAIChunk.Message, out delta) && delta.ValueKind == JsonValueKind.Object));
    }

    private static bool HasString(JsonElement delta, ReadOnlySpan<byte> name) =>
        delta.TryGetMember(name, out var value) && value.ValueKind == JsonValueKind.String && !value.ValueEquals(""u8);
}

