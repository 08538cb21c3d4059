using System.Buffers;
using System.IO.Pipelines;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using CopilotProxy.Http;
using CopilotProxy.Telemetry;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>What a finished relay saw, for the request log and metrics.</summary>
public readonly record struct RelayOutcome(UpstreamFailure? Failure, string? FinishReason, int? PromptTokens, int? CompletionTokens, int ToolCalls);

/// <summary>
/// Relays an upstream OpenAI SSE stream to the client, event by event, enforcing the rules Copilot's parser depends on
/// (docs/protocol.md §1.4) while leaving everything else byte-for-byte in meaning.
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
public sealed partial class SseRelay : IUpstreamEventSink, IDisposable
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
    private readonly EventShape _shape = new();
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

    /// <param name="repair">Turns tool calls written as text into tool calls (TOOL_CALL_REPAIR, requests with tools); owned by the relay.</param>
    /// <param name="reasoning">Takes reasoning written as text out of the answer (REASONING_TAGS); owned by the relay.</param>
    public SseRelay(PipeWriter output, string clientModel, ILogger logger, RequestTelemetry? telemetry = null, ToolCallRepair? repair = null,
        ReasoningEvents? reasoning = null)
    {
        _repair = repair;
        _reasoning = reasoning;
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
    /// <param name="answer">The upstream's answer.</param>
    /// <param name="heartbeat">Writes <c>: keep-alive</c> comments during upstream silences; null: none.</param>
    public async Task<RelayOutcome> RunAsync(UpstreamAnswer answer, SseHeartbeat? heartbeat = null)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var failure = await UpstreamPipeline.ReadEventsAsync(answer, this, _output, _telemetry is { } telemetry ? telemetry.MarkFirstToken : null, heartbeat);
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

            Ended = await FinalFlush.TryAsync(_output) && failure is null;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone as well; there is nobody left to tell.
        }

        FailureMessage = failure?.Message;
        return Outcome(failure?.Failure);
    }

    /// <summary>The whole answer reached the client: nothing more will be written to it.</summary>
    public bool Ended { get; private set; }

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
        _reasoning?.Dispose();
    }

    /// <summary>Relays one event's data (the bytes after <c>data: </c>) into the output without flushing; the per-event hot path.</summary>
    internal bool HandleEvent(ReadOnlySpan<byte> data)
    {
        var trimmed = data.Trim(" \r\n"u8);
        if (trimmed.SequenceEqual("[DONE]"u8))
        {
            FlushReasoning();
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
            document = StrictJson.Parse(data);
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

            if (root.TryGetProperty(OpenAIChunk.Error, out var error) && !HasChoices(root))
            {
                WriteFailure(NormalizedErrorEvent(error));
                _sawDone = true;
                return true;
            }

            if (SplitReasoning(root))
            {
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
    /// The fast path for the common event (see <see cref="PlainEvent"/>); false sends the event down the document path.
    /// The first event always takes the document path, which records the stream's id and created.
    /// </summary>
    private bool TryRelayPlainEvent(ReadOnlySpan<byte> data)
    {
        if (_chunkId is null || DocumentPathOnly || !_shape.TryScan(data, out var plain))
        {
            return false;
        }

        if ((plain.Finish == "stop" && _toolCallIds.Count > 0) || (plain.Finish is not null && !FinishReasoning(plain)))
        {
            return false;
        }

        if (SplitReasoning(data, plain))
        {
            return true;
        }

        var repaired = false;
        if (_repair is { Active: true } repair)
        {
            // The repair sees every content delta once, here or in the document path. The finish that makes it decide,
            // and n > 1, take the document path.
            if (plain.Finish is not null || plain.Choices > 1)
            {
                return false;
            }

            repaired = plain.ContentStart >= 0 && !repair.AppendJsonString(data[plain.ContentStart..plain.ContentEnd]);
        }

        _choiceOpen |= plain.ChoiceSeen;
        if (plain.Finish is not null)
        {
            _sawFinish = true;
            _finishReason = plain.Finish;
        }

        _promptTokens = plain.PromptTokens ?? _promptTokens;
        _completionTokens = plain.CompletionTokens ?? _completionTokens;
        if (repaired)
        {
            WriteWithContent(data, plain, _repair!.Released);
        }
        else
        {
            PlainEvent.WriteWithModel(data, plain, _clientModelJson, _output);
        }

        return true;
    }

    /// <summary>Records what the chunk tells us before writing it: llama.cpp puts finish_reason before delta, so order can't be relied on.</summary>
    private void Observe(JsonElement root)
    {
        if (_chunkId is null && root.TryGetProperty(OpenAIChunk.Id, out var id) && id.ValueKind == JsonValueKind.String)
        {
            _chunkId = id.GetString();
            _created = root.TryGetProperty(OpenAIChunk.Created, out var created) && created.ValueKind == JsonValueKind.Number && created.TryGetInt64(out var c) ? c : 0;
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
                    if (call.ValueKind != JsonValueKind.Object)
                    {
                        position++;
                        continue;
                    }

                    RecordToolCallId(call, UpstreamJson.ToolCallIndex(call, position));
                    position++;
                }
            }
        }
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
        FlushReasoning();
        ReleaseHeldText();
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
