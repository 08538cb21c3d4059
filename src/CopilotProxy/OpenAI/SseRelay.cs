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
    private string? _unreadableEvent;
    private int? _promptTokens;
    private int? _completionTokens;

    public SseRelay(PipeWriter output, string clientModel, ILogger logger, RequestTelemetry? telemetry = null)
    {
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
            else if (_unreadableEvent is { } unreadable)
            {
                failure = new UpstreamException(UpstreamFailure.InvalidResponse,
                    $"The upstream at {answer.Url} sent an event that is not JSON ({unreadable}); the answer is incomplete. Check LM Studio's server log, or whether LMSTUDIO_URL points at an OpenAI-compatible server.",
                    answer.Url);
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

    public void Dispose() => _writer.Dispose();

    /// <summary>Relays one event's data (the bytes after <c>data: </c>) into the output without flushing; the per-event hot path.</summary>
    internal bool HandleEvent(ReadOnlySpan<byte> data)
    {
        var trimmed = data.Trim(" \r\n"u8);
        if (trimmed.SequenceEqual("[DONE]"u8))
        {
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
            // Relayed as is, the client's SSE parser throws on it and the answer so far is lost without a word; stop
            // here and say what came instead (RunAsync writes the error event).
            RelayLog.NonJsonEvent(_logger, Encoding.UTF8.GetString(data));
            _unreadableEvent = Encoding.UTF8.GetString(trimmed.Length > 80 ? trimmed[..80] : trimmed);
            _sawDone = true;
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

            if (root.TryGetProperty("error", out var error) && !HasChoices(root))
            {
                WriteFailure(NormalizedErrorEvent(error));
                _sawDone = true;
                return true;
            }

            Observe(root);
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
        if (_chunkId is null)
        {
            return false;
        }

        var modelStart = -1;
        var modelEnd = -1;
        string? finish = null;
        var choiceSeen = false;
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
                if (reader.ValueTextEquals("model"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    {
                        return false;
                    }

                    modelStart = (int)reader.TokenStartIndex;
                    modelEnd = (int)reader.BytesConsumed;
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    if (!ScanPlainChoices(ref reader, ref finish, ref choiceSeen))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("usage"u8))
                {
                    if (!ScanUsage(ref reader, ref promptTokens, ref completionTokens))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("error"u8))
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

        _choiceOpen |= choiceSeen;
        if (finish is not null)
        {
            _sawFinish = true;
            _finishReason = finish;
        }

        _promptTokens = promptTokens ?? _promptTokens;
        _completionTokens = completionTokens ?? _completionTokens;

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

    /// <summary>Accepts choices whose delta holds only role and text, and whose finish reason is a known one.</summary>
    private static bool ScanPlainChoices(ref Utf8JsonReader reader, ref string? finish, ref bool choiceSeen)
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

            choiceSeen = true;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("delta"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                    {
                        return false;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (!reader.ValueTextEquals("role"u8) && !reader.ValueTextEquals("content"u8))
                        {
                            return false;
                        }

                        if (!reader.Read() || reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                        {
                            return false;
                        }
                    }
                }
                else if (reader.ValueTextEquals("finish_reason"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        finish = reader.ValueTextEquals("stop"u8) ? "stop"
                            : reader.ValueTextEquals("length"u8) ? "length"
                            : reader.ValueTextEquals("tool_calls"u8) ? "tool_calls"
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

    private static bool ScanUsage(ref Utf8JsonReader reader, ref int? promptTokens, ref int? completionTokens)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isPrompt = reader.ValueTextEquals("prompt_tokens"u8);
            var isCompletion = !isPrompt && reader.ValueTextEquals("completion_tokens"u8);
            reader.Read();
            if ((isPrompt || isCompletion) && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value))
            {
                if (isPrompt)
                {
                    promptTokens = value;
                }
                else
                {
                    completionTokens = value;
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return true;
    }

    /// <summary>Records what the chunk tells us before writing it: llama.cpp puts finish_reason before delta, so order can't be relied on.</summary>
    private void Observe(JsonElement root)
    {
        if (_chunkId is null && root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
        {
            _chunkId = id.GetString();
            _created = root.TryGetProperty("created", out var created) && created.TryGetInt64(out var c) ? c : 0;
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            _promptTokens = UpstreamJson.TryGetInt32(usage, "prompt_tokens", out var pv) ? pv : _promptTokens;
            _completionTokens = UpstreamJson.TryGetInt32(usage, "completion_tokens", out var cv) ? cv : _completionTokens;
        }

        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var choice in choices.EnumerateArray())
        {
            _choiceOpen |= choice.ValueKind == JsonValueKind.Object;
            if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object
                && delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                var position = 0;
                foreach (var call in calls.EnumerateArray())
                {
                    if (call.ValueKind != JsonValueKind.Object)
                    {
                        position++;
                        continue;
                    }

                    var index = UpstreamJson.ToolCallIndex(call, position);
                    while (_toolCallIds.Count <= index)
                    {
                        _toolCallIds.Add(null);
                    }

                    if (call.TryGetProperty("id", out var callId) && callId.ValueKind == JsonValueKind.String && callId.GetString() is { Length: > 0 } given)
                    {
                        _toolCallIds[index] = given;
                    }
                    else
                    {
                        _toolCallIds[index] ??= JsonRelay.NewToolCallId();
                    }

                    position++;
                }
            }
        }
    }

    private static bool HasChoices(JsonElement root) =>
        root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0;

    private static bool NeedsSplit(JsonElement root)
    {
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object
                && HasText(delta) && delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Non-empty text content, tested without materialising the string (this runs for every event).</summary>
    private static bool HasText(JsonElement delta) =>
        delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && !content.ValueEquals(ReadOnlySpan<byte>.Empty);

    private void WriteChunk(JsonElement root, DeltaPart part)
    {
        _output.Write(DataPrefix);
        _writer.Reset(_output);
        _writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("model"u8))
            {
                _writer.WriteString("model"u8, _clientModel);
            }
            else if (property.NameEquals("choices"u8) && property.Value.ValueKind == JsonValueKind.Array)
            {
                _writer.WritePropertyName("choices"u8);
                WriteChoices(property.Value, part);
            }
            else if (property.NameEquals("usage"u8) && part == DeltaPart.TextOnly)
            {
                // Usage belongs to the last event of a split pair only, so a client never counts it twice.
            }
            else
            {
                property.WriteTo(_writer);
            }
        }

        _writer.WriteEndObject();
        _writer.Flush();
        _output.Write(EventEnd);
    }

    private void WriteChoices(JsonElement choices, DeltaPart part)
    {
        _writer.WriteStartArray();
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.ValueKind != JsonValueKind.Object)
            {
                choice.WriteTo(_writer);
                continue;
            }

            _writer.WriteStartObject();
            foreach (var property in choice.EnumerateObject())
            {
                if (property.NameEquals("delta"u8) && property.Value.ValueKind == JsonValueKind.Object)
                {
                    _writer.WritePropertyName("delta"u8);
                    WriteDelta(property.Value, part);
                }
                else if (property.NameEquals("finish_reason"u8))
                {
                    WriteFinishReason(property.Value, part);
                }
                else
                {
                    property.WriteTo(_writer);
                }
            }

            _writer.WriteEndObject();
        }

        _writer.WriteEndArray();
    }

    private void WriteFinishReason(JsonElement value, DeltaPart part)
    {
        if (part == DeltaPart.TextOnly || value.ValueKind != JsonValueKind.String)
        {
            _writer.WriteNull("finish_reason"u8);
            return;
        }

        var reason = value.GetString();
        // Ollama does the same (openai.go FinishChunk): a turn that made tool calls finished *because* of them.
        if (reason == "stop" && _toolCallIds.Count > 0)
        {
            reason = "tool_calls";
        }

        _sawFinish = true;
        _finishReason = reason;
        _writer.WriteString("finish_reason"u8, reason);
    }

    private void WriteDelta(JsonElement delta, DeltaPart part)
    {
        _writer.WriteStartObject();
        var hasReasoningText = delta.TryGetProperty("reasoning_text", out _);
        foreach (var property in delta.EnumerateObject())
        {
            if (property.NameEquals("tool_calls"u8))
            {
                if (part != DeltaPart.TextOnly && property.Value.ValueKind == JsonValueKind.Array)
                {
                    _writer.WritePropertyName("tool_calls"u8);
                    WriteToolCalls(property.Value);
                }
                else if (part != DeltaPart.TextOnly)
                {
                    property.WriteTo(_writer);
                }
            }
            else if (part == DeltaPart.ToolCallsOnly && !property.NameEquals("role"u8))
            {
                // The tool-call half of a split delta carries only the calls (and the role).
            }
            else if (property.NameEquals("reasoning_content"u8) || property.NameEquals("reasoning"u8))
            {
                property.WriteTo(_writer);
                if (!hasReasoningText && property.Value.ValueKind == JsonValueKind.String)
                {
                    _writer.WritePropertyName("reasoning_text"u8);
                    property.Value.WriteTo(_writer);
                    hasReasoningText = true;
                }
            }
            else
            {
                property.WriteTo(_writer);
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
                call.WriteTo(_writer);
                position++;
                continue;
            }

            var index = UpstreamJson.ToolCallIndex(call, position);
            _writer.WriteStartObject();
            _writer.WriteNumber("index"u8, index);
            _writer.WriteString("id"u8, _toolCallIds[index]);
            foreach (var property in call.EnumerateObject())
            {
                if (!property.NameEquals("index"u8) && !property.NameEquals("id"u8))
                {
                    property.WriteTo(_writer);
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
        _output.Write(DataPrefix);
        _writer.Reset(_output);
        _writer.WriteStartObject();
        _writer.WriteString("id"u8, _chunkId ?? "chatcmpl-proxy");
        _writer.WriteString("object"u8, "chat.completion.chunk"u8);
        _writer.WriteNumber("created"u8, _created);
        _writer.WriteString("model"u8, _clientModel);
        _writer.WriteStartArray("choices"u8);
        _writer.WriteStartObject();
        _writer.WriteNumber("index"u8, 0);
        _writer.WriteStartObject("delta"u8);
        _writer.WriteEndObject();
        _writer.WriteString("finish_reason"u8, _finishReason);
        _writer.WriteEndObject();
        _writer.WriteEndArray();
        _writer.WriteEndObject();
        _writer.Flush();
        _output.Write(EventEnd);
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
            writer.WritePropertyName("error"u8);
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
