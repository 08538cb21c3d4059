using System.Buffers;
using System.Text.Json;
using CopilotProxy.Buffers;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Ollama;

/// <summary>
/// The translation's fast path for the events almost every stream is made of: one choice whose delta holds a piece of text
/// or reasoning (and maybe the role). <see cref="PlainEvent.TryScan"/> finds the text's JSON string in one forward pass; the line is
/// written from those bytes with no <see cref="JsonDocument"/> and no allocation. Everything else (the first events with
/// the role alone, tool calls, a finish reason, usage, timings, errors, n &gt; 1) takes the document path, and a
/// test holds both paths to the same output.
/// </summary>
public sealed partial class ChunkTranslator
{
    /// <summary>Every event takes the document path; tests and benchmarks compare it with the fast path.</summary>
    internal bool DocumentPathOnly { get; init; }

    /// <summary>The start of every line, for <see cref="TryEmitRawLine"/>; made at the first line.</summary>
    private byte[]? _lineHead;

    private readonly EventShape _eventShape = new(anyLayout: true, acceptReasoning: true);

    /// <summary>Handles a plain text or reasoning event as <see cref="HandleChoice"/> would; false sends it down the document path.</summary>
    private bool TryTranslatePlainEvent(ReadOnlySpan<byte> data)
    {
        // stream:false aggregates decoded text, which allocates anyway; it is one answer, not a line per token.
        // Whitespace between tokens doesn't matter here: only string values are copied, never the event.
        if (DocumentPathOnly || !_stream || !_eventShape.TryScan(data, out var plain))
        {
            return false;
        }

        // A finish, usage and timings are read in the document path.
        if (plain.Choices != 1 || plain.FirstChoiceIrregular || plain.Finish is not null || plain.PromptTokens is not null
            || plain.CompletionTokens is not null || plain.Timings)
        {
            return false;
        }

        if (SplitReasoning(data, plain, out var documentPath) || documentPath)
        {
            return !documentPath;
        }

        var text = NonEmptyString(data, (plain.ContentStart, plain.ContentEnd));
        var reasoning = NonEmptyString(data, plain.Reasoning);
        if (reasoning.IsEmpty)
        {
            reasoning = NonEmptyString(data, plain.AltReasoning);
        }

        if (!_showThinking)
        {
            reasoning = default;
        }

        // Nothing to say (the role alone): the document path also looks at the choice's "text" and writes nothing.
        // Bytes that are not UTF-8 (only a caller other than SseEventReader, which replaces them, can hand those over)
        // are refused by the document path's parse; copying them as they are would write an invalid line.
        if ((text.IsEmpty && reasoning.IsEmpty) || !System.Text.Unicode.Utf8.IsValid(text) || !System.Text.Unicode.Utf8.IsValid(reasoning))
        {
            return false;
        }

        var repairTookText = !text.IsEmpty && _repair is { Active: true } repair && !repair.AppendJsonString(text);
        if (repairTookText)
        {
            text = default;
        }

        MarkToken();
        if (!text.IsEmpty || !reasoning.IsEmpty)
        {
            EmitQuotedText(text, reasoning);
        }

        if (repairTookText)
        {
            EmitPlainText(_repair!.Released);
        }

        if (Finished)
        {
            EmitToolCalls();
        }

        return true;
    }

    /// <summary>A string token (quotes included) that holds at least one character, or empty.</summary>
    private static ReadOnlySpan<byte> NonEmptyString(ReadOnlySpan<byte> data, (int Start, int End) token) =>
        token.Start >= 0 && token.End - token.Start > 2 ? data[token.Start..token.End] : default;

    /// <summary>The line <see cref="EmitText"/> writes, from the JSON string tokens (quotes included; empty when absent).</summary>
    private void EmitQuotedText(ReadOnlySpan<byte> text, ReadOnlySpan<byte> reasoning)
    {
        if (TryEmitRawLine(text, reasoning))
        {
            return;
        }

        var json = BeginTextLine();
        WriteJsonString(json, TextName, text);
        WriteJsonString(json, "thinking"u8, reasoning, omitEmpty: true);
        EndTextLine(json);
    }

    /// <summary>
    /// The same line as bytes, when every string can be copied as the upstream wrote it: no escapes, and nothing this
    /// writer's encoder would escape. The JSON writer costs about 100 ns a line more (a micro-benchmark), most of the line.
    /// </summary>
    private bool TryEmitRawLine(ReadOnlySpan<byte> text, ReadOnlySpan<byte> reasoning)
    {
        if (!CopiesAsIs(text) || !CopiesAsIs(reasoning))
        {
            return false;
        }

        var head = _lineHead ??= LineHead();
        var middle = _shape == OllamaAnswerShape.Chat ? "\",\"message\":{\"role\":\"assistant\",\"content\":"u8 : "\",\"response\":"u8;
        var end = _shape == OllamaAnswerShape.Chat ? "},\"done\":false}\n"u8 : ",\"done\":false}\n"u8;
        var thinking = ",\"thinking\":"u8;
        var span = _lines.BeginRawLine(head.Length + NdjsonWriter.MaxTimestampLength + middle.Length + Math.Max(text.Length, 2)
            + thinking.Length + reasoning.Length + end.Length);
        head.CopyTo(span);
        var at = head.Length;
        at += NdjsonWriter.WriteTimestamp(DateTime.UtcNow, span[at..]);
        at += Append(span, at, middle);
        at += Append(span, at, text.IsEmpty ? "\"\""u8 : text);
        if (!reasoning.IsEmpty)
        {
            at += Append(span, at, thinking);
            at += Append(span, at, reasoning);
        }

        at += Append(span, at, end);
        _lines.EndRawLine(at);
        return true;

        static int Append(Span<byte> span, int at, ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(span[at..]);
            return bytes.Length;
        }
    }

    /// <summary>A string token (or nothing) that the JSON writer would write back byte for byte.</summary>
    private static bool CopiesAsIs(ReadOnlySpan<byte> quoted) =>
        quoted.IsEmpty || (!quoted[1..^1].Contains((byte)'\\') && RelayJson.WriterOptions.Encoder!.FindFirstCharacterToEncodeUtf8(quoted[1..^1]) < 0);

    /// <summary><c>{"model":"…","created_at":"</c>, written once by the JSON writer as <see cref="WriteHeader"/> writes it.</summary>
    private byte[] LineHead()
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("model"u8, _clientModel);
            json.WritePropertyName("created_at"u8);
        }

        return [.. buffer.WrittenSpan, (byte)'"'];
    }

    /// <summary>
    /// Writes what <see cref="JsonElement.WriteTo"/> writes for the same string: the value unescaped, then escaped by this
    /// writer's encoder. Text without a backslash is its own unescaped value, so only text with escapes is decoded (into a
    /// stack buffer, or a pooled one for long text).
    /// </summary>
    private static void WriteJsonString(Utf8JsonWriter json, ReadOnlySpan<byte> name, ReadOnlySpan<byte> quoted, bool omitEmpty = false)
    {
        if (quoted.IsEmpty)
        {
            if (!omitEmpty)
            {
                json.WriteString(name, ""u8);
            }

            return;
        }

        var inner = quoted[1..^1];
        if (!inner.Contains((byte)'\\'))
        {
            json.WriteString(name, inner);
            return;
        }

        const int StackLimit = 256;
        byte[]? rented = null;
        var scratch = inner.Length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(inner.Length));
        try
        {
            var reader = new Utf8JsonReader(quoted);
            reader.Read();
            json.WriteString(name, scratch[..reader.CopyString(scratch)]);
        }
        finally
        {
            if (rented is not null)
            {
                SharedPool.Return(rented);
            }
        }
    }
}
