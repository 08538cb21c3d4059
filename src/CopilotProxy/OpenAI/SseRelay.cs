using System.Buffers;
using System.IO.Pipelines;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using CopilotProxy.Http;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>What a finished relay saw, for the request log and metrics.</summary>
public readonly record struct RelayOutcome(UpstreamFailure? Failure, string? FinishReason, int? PromptTokens, int? CompletionTokens, int ToolCalls);

/// <summary>
/// Relays an upstream OpenAI SSE stream to the client, event by event, enforcing the rules Copilot's parser depends on
/// (protocol.md §1.4) while leaving everything else byte-for-byte in meaning.
/// </summary>
/// <remarks>
/// Per event, in order:
/// 1. Parse the JSON once from the event's UTF-8 bytes.
/// 2. Rewrite <c>model</c> to the name the client asked for.
/// 3. Give every tool-call fragment an <c>id</c>: Copilot groups fragments by id, not index, and appends id-less fragments to
///    the last call it saw, so interleaved parallel calls would merge. The upstream's id is repeated; an empty or missing one is
///    synthesised per index.
/// 4. Split a delta that carries both text and tool calls into two events: Copilot drops text that shares a delta with tool calls.
/// 5. Mirror <c>reasoning_content</c>/<c>reasoning</c> into <c>reasoning_text</c>, the field Copilot shows as thinking.
/// 6. Turn <c>finish_reason:"stop"</c> into <c>"tool_calls"</c> once calls were made, and synthesise a finish chunk before
///    <c>[DONE]</c> when the upstream sent none: Copilot only runs tool calls after a finish reason.
/// 7. Write <c>data: …\n\n</c> and flush, so tokens and tool-call fragments reach the client as they arrive (nothing is buffered).
/// </remarks>
public sealed class SseRelay : IUpstreamEventSink, IDisposable
{
    private enum DeltaPart
    {
        All,
        TextOnly,
        ToolCallsOnly,
    }

    /// <summary>What the first choice's <c>content</c> becomes while the tool-call repair is deciding.</summary>
    private enum ContentSource
    {
        Upstream,
        Repair,
        None,
    }

    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly PipeWriter _output;
    private readonly string _clientModel;
    private readonly byte[] _clientModelJson;
    private readonly ILogger _logger;
    private readonly RequestTelemetry? _telemetry;
    private readonly Utf8JsonWriter _writer;
    private readonly List<string?> _toolCallIds = [];
    private string? _chunkId;
    private long _created;
    private bool _sawFinish;
    private bool _choiceOpen;
    private bool _sawDone;
    private bool _sawError;
    private string? _finishReason;
    private int? _promptTokens;
    private int? _completionTokens;
    private readonly ToolCallRepair? _repair;
    private ContentSource _content;
    private int _repairedCalls;

    /// <param name="repair">Turns tool calls written as text into tool calls (TOOL_CALL_REPAIR, requests with tools); owned by the relay.</param>
    public SseRelay(PipeWriter output, string clientModel, ILogger logger, RequestTelemetry? telemetry = null, ToolCallRepair? repair = null)
    {
        _repair = repair;
        _telemetry = telemetry;
        _output = output;
        _clientModel = clientModel;
        _clientModelJson = [(byte)'"', .. JsonEncodedText.Encode(clientModel, RelayJson.WriterOptions.Encoder).EncodedUtf8Bytes, (byte)'"'];
        _logger = logger;
        _writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
    }

    /// <summary>
    /// Relays until <c>[DONE]</c>, the end of the upstream body, or a failure; never leaves the client hanging. Every
    /// in-band error event is followed by <c>[DONE]</c> so Copilot reports the error instead of a quietly truncated answer.
    /// </summary>
    public async Task<RelayOutcome> RunAsync(UpstreamAnswer answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var failure = await UpstreamPipeline.ReadEventsAsync(answer, this, _output, _telemetry is { } telemetry ? telemetry.MarkFirstToken : null);
        try
        {
            if (failure is { Failure: UpstreamFailure.ClientCanceled })
            {
                return Outcome(failure.Failure);
            }

            if (failure is not null)
            {
                // Headers and a 200 are already on the wire, so the status can't say it; the protocol's in-band error event
                // is the only way left to tell the client this answer is incomplete.
                WriteFailure(OpenAIErrors.SseEvent(failure.Message, OpenAIErrors.CodeFor(failure.Failure)));
            }
            else if (!_sawDone && !_sawError)
            {
                if (_sawFinish)
                {
                    // The upstream finished the turn but closed without the terminator; completing it is lossless.
                    _output.Write(Done);
                }
                else
                {
                    failure = new UpstreamException(UpstreamFailure.MidStream,
                        $"The upstream at {answer.Url} closed the stream before the answer finished (no finish_reason, no [DONE]). Check LM Studio's server log; the model may have crashed or been unloaded.",
                        answer.Url);
                    WriteFailure(OpenAIErrors.SseEvent(failure.Message, OpenAIErrors.CodeFor(failure.Failure)));
                }
            }

            await _output.FlushAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone as well; there is nobody left to tell.
        }

        FailureMessage = failure?.Message;
        return Outcome(failure?.Failure);
    }

    /// <summary>The failure the relay ended with, if any, for the request log; its message is what the client was sent.</summary>
    public string? FailureMessage { get; private set; }

    private RelayOutcome Outcome(UpstreamFailure? failure) =>
        new(failure ?? (_sawError ? UpstreamFailure.Status : null), _finishReason, _promptTokens, _completionTokens, _toolCallIds.Count);

    bool IUpstreamEventSink.OnEvent(ReadOnlySpan<byte> data)
    {
        HandleEvent(data);
        return !_sawDone;
    }

    /// <summary>Every event takes the document path; tests compare it with the fast path, which must produce the same bytes.</summary>
    internal bool DocumentPathOnly { get; init; }

    public void Dispose()
    {
        _writer.Dispose();
        _repair?.Dispose();
    }

    /// <summary>Relays one event's data (the bytes after <c>data: </c>) into the output without flushing; the per-event hot path.</summary>
    internal bool HandleEvent(ReadOnlySpan<byte> data)
    {
        var trimmed = data.Trim(" \r\n"u8);
        if (trimmed.SequenceEqual("[DONE]"u8))
        {
            if (_repair is { Active: true } && !_sawError)
            {
                // The upstream ended without a finish reason: the content is complete, so the repair decides now.
                FinishRepair(truncated: false);
            }

            WriteSyntheticFinishIfMissing();
            _output.Write(Done);
            _sawDone = true;
            return true;
        }

        if (TryRelayPlainEvent(data))
        {
            return true;
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(data);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            RelayLog.NonJsonEvent(_logger, Encoding.UTF8.GetString(data));
            WriteRaw(data);
            return true;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                WriteRaw(data);
                return true;
            }

            if (root.TryGetProperty(OpenAIChunk.Error, out var error) && !HasChoices(root))
            {
                WriteFailure(NormalizedErrorEvent(error));
                _sawDone = true;
                return true;
            }

            Observe(root);
            if (_repair is { Active: true })
            {
                RelayWithRepair(root);
            }
            else if (NeedsSplit(root))
            {
                WriteChunk(root, DeltaPart.TextOnly);
                WriteChunk(root, DeltaPart.ToolCallsOnly);
            }
            else
            {
                WriteChunk(root, DeltaPart.All);
            }
        }

        return true;
    }

    /// <summary>
    /// The fast path for the common event: plain text (or an empty delta) with at most a finish reason that needs no
    /// change. One forward scan with <see cref="Utf8JsonReader"/> proves the event needs nothing but the model name
    /// swapped, then the upstream's bytes are copied around the new name: no document, no re-serialisation, no
    /// allocation. Anything else (tool calls, reasoning, errors, "stop" after tool calls, the first event, whose id and
    /// created the full path records) returns false and takes the full path.
    /// </summary>
    private bool TryRelayPlainEvent(ReadOnlySpan<byte> data)
    {
        if (_chunkId is null || DocumentPathOnly || !OpenAIChunk.IsCompact(data))
        {
            return false;
        }

        var modelStart = -1;
        var modelEnd = -1;
        string? finish = null;
        var choices = 0;
        var contentStart = -1;
        var contentEnd = -1;
        int? promptTokens = null;
        int? completionTokens = null;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(OpenAIChunk.Model))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    {
                        return false;
                    }

                    modelStart = (int)reader.TokenStartIndex;
                    modelEnd = (int)reader.BytesConsumed;
                }
                else if (reader.ValueTextEquals(OpenAIChunk.Choices))
                {
                    if (!ScanPlainChoices(ref reader, ref finish, ref choices, ref contentStart, ref contentEnd))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals(OpenAIChunk.Usage))
                {
                    if (!OpenAIChunk.ReadUsage(ref reader, ref promptTokens, ref completionTokens))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals(OpenAIChunk.Error))
                {
                    return false;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        if (finish == "stop" && _toolCallIds.Count > 0)
        {
            return false;
        }

        var repaired = false;
        if (_repair is { Active: true } repair)
        {
            // The repair sees every content delta once, here or in the document path. The finish that makes it decide,
            // and n > 1, take the document path.
            if (finish is not null || choices > 1)
            {
                return false;
            }

            repaired = contentStart >= 0 && !repair.AppendJsonString(data[contentStart..contentEnd]);
        }

        _choiceOpen |= choices > 0;
        if (finish is not null)
        {
            _sawFinish = true;
            _finishReason = finish;
        }

        _promptTokens = promptTokens ?? _promptTokens;
        _completionTokens = completionTokens ?? _completionTokens;

        if (repaired)
        {
            WriteWithContent(data, modelStart, modelEnd, contentStart, contentEnd, _repair!.Released);
            return true;
        }

        // One GetSpan/Advance for the whole event: Kestrel's response writer takes a lock on each call.
        var model = modelStart >= 0 ? _clientModelJson : [];
        var head = modelStart >= 0 ? data[..modelStart] : data;
        var tail = modelStart >= 0 ? data[modelEnd..] : [];
        var length = DataPrefix.Length + head.Length + model.Length + tail.Length + EventEnd.Length;
        var span = _output.GetSpan(length);
        DataPrefix.CopyTo(span);
        var at = DataPrefix.Length;
        head.CopyTo(span[at..]);
        at += head.Length;
        model.CopyTo(span[at..]);
        at += model.Length;
        tail.CopyTo(span[at..]);
        at += tail.Length;
        EventEnd.CopyTo(span[at..]);
        _output.Advance(length);
        return true;
    }

    /// <summary>
    /// A plain event whose text the tool-call repair holds or releases: the upstream's bytes with the model name swapped and
    /// the content replaced by <paramref name="text"/> (empty while the repair holds it).
    /// </summary>
    private void WriteWithContent(ReadOnlySpan<byte> data, int modelStart, int modelEnd, int contentStart, int contentEnd, ReadOnlySpan<byte> text)
    {
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

    /// <summary>Accepts choices whose delta holds only role and text, and whose finish reason is a known one.</summary>
    private static bool ScanPlainChoices(ref Utf8JsonReader reader, ref string? finish, ref int choices, ref int contentStart, ref int contentEnd)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            choices++;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(OpenAIChunk.Delta))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                    {
                        return false;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isContent = reader.ValueTextEquals(OpenAIChunk.Content);
                        if (!isContent && !reader.ValueTextEquals(OpenAIChunk.Role))
                        {
                            return false;
                        }

                        if (!reader.Read() || reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                        {
                            return false;
                        }

                        if (isContent && reader.TokenType == JsonTokenType.String && choices == 1)
                        {
                            contentStart = (int)reader.TokenStartIndex;
                            contentEnd = (int)reader.BytesConsumed;
                        }
                    }
                }
                else if (reader.ValueTextEquals(OpenAIChunk.FinishReason))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        finish = reader.ValueTextEquals("stop"u8) ? "stop"
                            : reader.ValueTextEquals("length"u8) ? "length"
                            : reader.ValueTextEquals(OpenAIChunk.ToolCalls) ? "tool_calls"
                            : reader.ValueTextEquals("content_filter"u8) ? "content_filter"
                            : null;
                        if (finish is null)
                        {
                            return false;
                        }
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return false;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }

        return true;
    }

    /// <summary>Records what the chunk tells us before writing it: llama.cpp puts finish_reason before delta, so order can't be relied on.</summary>
    private void Observe(JsonElement root)
    {
        if (_chunkId is null && root.TryGetProperty(OpenAIChunk.Id, out var id) && id.ValueKind == JsonValueKind.String)
        {
            _chunkId = id.GetString();
            _created = root.TryGetProperty(OpenAIChunk.Created, out var created) && created.TryGetInt64(out var c) ? c : 0;
        }

        OpenAIChunk.ReadUsage(root, ref _promptTokens, ref _completionTokens);

        if (!root.TryGetProperty(OpenAIChunk.Choices, out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var choice in choices.EnumerateArray())
        {
            _choiceOpen |= choice.ValueKind == JsonValueKind.Object;
            if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty(OpenAIChunk.Delta, out var delta) && delta.ValueKind == JsonValueKind.Object
                && delta.TryGetProperty(OpenAIChunk.ToolCalls, out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                var position = 0;
                foreach (var call in calls.EnumerateArray())
                {
                    var index = call.TryGetProperty(OpenAIChunk.Index, out var i) && i.TryGetInt32(out var iv) ? iv : position;
                    while (_toolCallIds.Count <= index)
                    {
                        _toolCallIds.Add(null);
                    }

                    _toolCallIds[index] = OpenAIChunk.ToolCallId(call) ?? _toolCallIds[index] ?? OpenAIChunk.NewToolCallId();

                    position++;
                }
            }
        }
    }

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

    private void WriteToolCalls(JsonElement calls)
    {
        _writer.WriteStartArray();
        var position = 0;
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object)
            {
                OpenAIChunk.CopyValue(call, _writer);
                continue;
            }

            var index = call.TryGetProperty(OpenAIChunk.Index, out var i) && i.TryGetInt32(out var iv) ? iv : position;
            _writer.WriteStartObject();
            _writer.WriteNumber(OpenAIChunk.Index, index);
            _writer.WriteString(OpenAIChunk.Id, _toolCallIds[index]);
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

    private void WriteSyntheticFinishIfMissing()
    {
        if (!_sawFinish && !_sawError)
        {
            WriteSyntheticFinish(_toolCallIds.Count > 0 ? "tool_calls" : "stop");
        }
    }

    private void WriteSyntheticFinish(string reason)
    {
        _finishReason = reason;
        _sawFinish = true;
        BeginSyntheticChunk();
        _writer.WriteEndObject();
        EndSyntheticChunk(_finishReason);
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

    /// <summary>Normalises <c>{"error":"text"}</c> (LM Studio) into OpenAI's object shape, which SDKs know how to raise.</summary>
    private static byte[] NormalizedErrorEvent(JsonElement error)
    {
        if (error.ValueKind == JsonValueKind.String)
        {
            return OpenAIErrors.SseEvent(error.GetString() ?? "upstream error", "upstream_error");
        }

        using var buffer = new PooledBufferWriter(256);
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WritePropertyName(OpenAIChunk.Error);
            error.WriteTo(writer);
            writer.WriteEndObject();
        }

        return [.. DataPrefix, .. buffer.WrittenSpan, .. EventEnd];
    }

    /// <summary>
    /// Ends the stream with an in-band error that Copilot actually shows. Copilot keeps only the last completion its parser
    /// yields, and an open answer yields again at <c>[DONE]</c> or at the end of the body, hiding an earlier error. So an open
    /// choice is closed first (<c>length</c>: the answer was cut off; a value every SDK knows and one that never makes Copilot
    /// run half-streamed tool calls), then the error, then <c>[DONE]</c>.
    /// </summary>
    private void WriteFailure(byte[] errorEvent)
    {
        if (_repair is { Active: true } repair)
        {
            // Nothing held back is lost: the text the repair was still deciding about goes out before the error.
            repair.Stop();
            WriteTextChunk(repair.Released);
        }

        if (_choiceOpen && !_sawFinish)
        {
            WriteSyntheticFinish("length");
        }

        _sawError = true;
        _output.Write(errorEvent);
        _output.Write(Done);
    }

    private void WriteRaw(ReadOnlySpan<byte> data)
    {
        _output.Write(DataPrefix);
        _output.Write(data);
        _output.Write(EventEnd);
    }
}
