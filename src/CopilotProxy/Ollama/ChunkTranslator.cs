using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CopilotProxy.OpenAI;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;

namespace CopilotProxy.Ollama;

/// <summary>Which Ollama answer the chunks become: <c>/api/chat</c> (<c>message.content</c>) or <c>/api/generate</c> (<c>response</c>).</summary>
public enum OllamaAnswerShape
{
    Chat,
    Generate,
}

/// <summary>
/// OpenAI chunks → Ollama lines (docs/protocol.md §4.3 → §2.4/§2.5). One instance per request.
/// </summary>
/// <remarks>
/// Per upstream event, in order:
/// 1. Parse the JSON once from the event's UTF-8 bytes.
/// 2. Text (<c>delta.content</c>, or <c>text</c> from <c>/v1/completions</c>) and reasoning (<c>reasoning_content</c> or
///    <c>reasoning</c>) go out at once as one line, copied as JSON values without decoding them (streaming), or are appended
///    to the aggregate (<c>stream:false</c>).
/// 3. Tool-call fragments are accumulated by index; the calls go out whole, with object arguments, once the upstream finishes.
/// 4. Usage and llama.cpp's <c>timings</c> are kept for the final line.
/// The final line (<see cref="WriteDone"/>) carries <c>done:true</c>, <c>done_reason</c>, the token counts and the durations.
/// </remarks>
public sealed partial class ChunkTranslator : IUpstreamEventSink, IDisposable
{
    private readonly NdjsonWriter _lines;
    private readonly string _clientModel;
    private readonly OllamaAnswerShape _shape;
    private readonly bool _stream;
    private readonly bool _showThinking;
    private readonly long _requestStarted;
    private readonly ToolCallAccumulator _toolCalls = new();
    private readonly StringBuilder _content = new();
    private readonly StringBuilder _thinking = new();
    private readonly ToolCallRepair? _repair;
    private List<CompletedToolCall>? _completedCalls;
    private long _upstreamSent;
    private long _firstToken;
    private long _lastToken;
    private string? _finishReason;
    private int? _promptTokens;
    private int? _completionTokens;
    private double? _promptMs;
    private int? _promptEvaluated;
    private double? _predictedMs;

    /// <param name="output">Where lines go: the response body, or a buffer in tests.</param>
    /// <param name="clientModel">The model name as the client wrote it; echoed on every line.</param>
    /// <param name="stream">False aggregates everything into the one object <see cref="WriteDone"/> writes.</param>
    /// <param name="showThinking">False drops reasoning: the client said <c>think:false</c>, so it gets no <c>thinking</c> field.</param>
    /// <param name="requestStarted">Stopwatch timestamp of the request's arrival, for <c>total_duration</c>.</param>
    /// <param name="repair">Turns tool calls written as text into tool calls (TOOL_CALL_REPAIR, chat requests with tools); owned by the translator.</param>
    public ChunkTranslator(IBufferWriter<byte> output, string clientModel, OllamaAnswerShape shape, bool stream, bool showThinking, long requestStarted,
        ToolCallRepair? repair = null)
    {
        _repair = repair;
        _lines = new NdjsonWriter(output);
        _clientModel = clientModel;
        _shape = shape;
        _stream = stream;
        _showThinking = showThinking;
        _requestStarted = requestStarted;
        _upstreamSent = requestStarted;
    }

    /// <summary>True once the upstream said the turn is over (a finish reason, or <c>[DONE]</c>).</summary>
    public bool Finished { get; private set; }

    /// <summary>What the upstream reported, for the request log line and metrics.</summary>
    internal (string? FinishReason, int? PromptTokens, int? CompletionTokens) Outcome => (_finishReason, _promptTokens, _completionTokens);

    /// <summary>True after <c>[DONE]</c>: nothing more will come.</summary>
    public bool SawDone { get; private set; }

    /// <summary>The upstream's in-band error, when it sent one instead of (or in the middle of) an answer.</summary>
    public string? UpstreamError { get; private set; }

    /// <summary>The start of an event that was not JSON, when the upstream sent one; the translation stops there.</summary>
    public string? UnreadableEvent { get; private set; }

    bool IUpstreamEventSink.OnEvent(ReadOnlySpan<byte> data)
    {
        HandleEvent(data);
        return !SawDone && UpstreamError is null && UnreadableEvent is null;
    }

    public int ToolCallCount => _completedCalls?.Count ?? _toolCalls.Count;

    /// <summary>Tool calls the repair made out of text, for the request log line and metrics.</summary>
    public int RepairedToolCalls { get; private set; }

    /// <summary>Marks when the upstream request left, so time to first token can be told apart from the proxy's own work.</summary>
    public void MarkUpstreamSent(long timestamp) => _upstreamSent = timestamp;

    /// <summary>Handles one upstream SSE event (or one whole JSON completion); returns true when lines were written and should be flushed.</summary>
    public bool HandleEvent(ReadOnlySpan<byte> data)
    {
        var trimmed = data.Trim(" \r\n\t"u8);
        if (trimmed.SequenceEqual("[DONE]"u8))
        {
            FlushReasoning();
            SawDone = true;
            Finished = true;
            FinishRepair(truncated: false);

            EmitToolCalls();
            return _lines.TakeWritten();
        }

        if (TryTranslatePlainEvent(trimmed))
        {
            return _lines.TakeWritten();
        }

        JsonDocument document;
        try
        {
            document = StrictJson.Parse(trimmed);
        }
        catch (JsonException)
        {
            // An empty data line carries nothing; anything else that is not JSON means the answer can't be trusted, and
            // dropping it would end the answer quietly with done_reason "stop".
            if (!trimmed.IsEmpty)
            {
                UnreadableEvent = Encoding.UTF8.GetString(trimmed[..Math.Min(trimmed.Length, 200)]);
            }

            return false;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            if (root.TryGetProperty(OpenAIChunk.Error, out _) && !root.TryGetProperty(OpenAIChunk.Choices, out _))
            {
                UpstreamError = UpstreamErrors.ParseErrorBody(trimmed).Message ?? "the upstream reported an error";
                StopRepair();
                return false;
            }

            if (SplitReasoning(root))
            {
                return true;
            }

            ObserveUsage(root);
            if (root.TryGetProperty(OpenAIChunk.Choices, out var choices) && choices.ValueKind == JsonValueKind.Array)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    // Ollama has one answer per request; further choices (n > 1) have nowhere to go.
                    if (choice.ValueKind == JsonValueKind.Object && (!choice.TryGetProperty(OpenAIChunk.Index, out var index) || (index.ValueKind == JsonValueKind.Number && index.TryGetInt32(out var i) && i == 0)))
                    {
                        HandleChoice(choice);
                        break;
                    }
                }
            }
        }

        if (Finished)
        {
            EmitToolCalls();
        }

        return _lines.TakeWritten();
    }

    /// <summary>
    /// Writes the final object: the last line of a stream, or the whole answer for <c>stream:false</c>.
    /// </summary>
    /// <param name="loadDuration">How long an explicit model load took, when the proxy did one; otherwise unknown and left out.</param>
    public void WriteDone(TimeSpan? loadDuration = null)
    {
        FlushReasoning();
        FinishRepair(truncated: _finishReason == "length");

        EmitToolCalls();
        var now = Stopwatch.GetTimestamp();
        var json = _lines.BeginLine();
        json.WriteStartObject();
        WriteHeader(json);
        if (_shape == OllamaAnswerShape.Chat)
        {
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            json.WriteString("content"u8, _stream ? string.Empty : _content.ToString());
            if (!_stream && _thinking.Length > 0)
            {
                json.WriteString("thinking"u8, _thinking.ToString());
            }

            if (!_stream && _completedCalls is { Count: > 0 } calls)
            {
                WriteToolCalls(json, calls);
            }

            json.WriteEndObject();
        }
        else
        {
            json.WriteString("response"u8, _stream ? string.Empty : _content.ToString());
            if (!_stream && _thinking.Length > 0)
            {
                json.WriteString("thinking"u8, _thinking.ToString());
            }
        }

        json.WriteBoolean("done"u8, true);
        json.WriteString("done_reason"u8, DoneReason(_finishReason));
        WriteMetrics(json, now, loadDuration);
        json.WriteEndObject();
        _lines.EndLine();
    }

    /// <summary>A final <c>{"error":"…"}</c> line: the 200 is already sent, so this is how the client learns the answer broke.</summary>
    public void WriteError(string message)
    {
        FlushReasoning();
        StopRepair();
        _lines.WriteError(message);
    }

    public void Dispose()
    {
        _repair?.Dispose();
        _reasoning?.Dispose();
        _lines.Dispose();
        foreach (var call in _completedCalls ?? [])
        {
            call.Arguments?.Dispose();
        }
    }

    /// <summary>Ollama's done_reason: <c>length</c> when the token limit cut the answer, otherwise <c>stop</c> (tool calls included, as Ollama reports them).</summary>
    public static string DoneReason(string? finishReason) => finishReason == "length" ? "length" : "stop";

    private void HandleChoice(JsonElement choice)
    {
        // Streaming chunks carry "delta"; a whole completion (an upstream that ignored stream:true) carries "message".
        var delta = choice.TryGetProperty(OpenAIChunk.Delta, out var d) && d.ValueKind == JsonValueKind.Object ? d
            : choice.TryGetProperty(OpenAIChunk.Message, out var m) && m.ValueKind == JsonValueKind.Object ? m
            : default;

        JsonElement text = default;
        JsonElement reasoning = default;
        if (delta.ValueKind == JsonValueKind.Object)
        {
            text = NonEmptyString(delta, "content"u8);
            reasoning = NonEmptyString(delta, "reasoning_content"u8);
            if (reasoning.ValueKind != JsonValueKind.String)
            {
                reasoning = NonEmptyString(delta, "reasoning"u8);
            }

            if (delta.TryGetProperty(OpenAIChunk.ToolCalls, out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
            {
                // Real tool calls after all: whatever the repair held is plain text.
                StopRepair();
                MarkToken();
                _toolCalls.Add(calls);
            }
        }

        if (text.ValueKind != JsonValueKind.String)
        {
            // /v1/completions (raw generate) streams plain text per choice.
            text = NonEmptyString(choice, "text"u8);
        }

        if (!_showThinking)
        {
            reasoning = default;
        }

        var repairTookText = text.ValueKind == JsonValueKind.String && _repair is { Active: true } repair && !repair.Append(text);
        if (repairTookText)
        {
            text = default;
        }

        if (text.ValueKind == JsonValueKind.String || reasoning.ValueKind == JsonValueKind.String || repairTookText)
        {
            MarkToken();
        }

        if (text.ValueKind == JsonValueKind.String || reasoning.ValueKind == JsonValueKind.String)
        {
            EmitText(text, reasoning);
        }

        if (repairTookText)
        {
            EmitPlainText(_repair!.Released);
        }

        if (choice.TryGetProperty(OpenAIChunk.FinishReason, out var finish) && finish.ValueKind == JsonValueKind.String)
        {
            _finishReason = finish.GetString();
            Finished = true;
            FinishRepair(truncated: _finishReason == "length");
        }
    }

    private void EmitText(JsonElement text, JsonElement reasoning)
    {
        if (!_stream)
        {
            if (text.ValueKind == JsonValueKind.String)
            {
                _content.Append(text.GetString());
            }

            if (reasoning.ValueKind == JsonValueKind.String)
            {
                _thinking.Append(reasoning.GetString());
            }

            return;
        }

        var json = BeginTextLine();
        WriteTextValue(json, TextName, text);
        if (reasoning.ValueKind == JsonValueKind.String)
        {
            json.WritePropertyName("thinking"u8);
            reasoning.WriteTo(json);
        }

        EndTextLine(json);
    }

    private void MarkToken()
    {
        var now = Stopwatch.GetTimestamp();
        if (_firstToken == 0)
        {
            _firstToken = now;
        }

        _lastToken = now;
    }

    private void ObserveUsage(JsonElement root)
    {
        // LM Studio may send usage on its own choices:[] chunk or on the finish chunk (docs/protocol.md §3.1): both are read.
        OpenAIChunk.ReadUsage(root, ref _promptTokens, ref _completionTokens);

        if (root.TryGetProperty("timings"u8, out var timings) && timings.ValueKind == JsonValueKind.Object)
        {
            if (timings.TryGetProperty("prompt_ms"u8, out var pm) && UpstreamJson.TryGetMilliseconds(pm, out var pmv))
            {
                _promptMs = pmv;
            }

            if (timings.TryGetProperty("prompt_n"u8, out var pn) && pn.ValueKind == JsonValueKind.Number && pn.TryGetInt32(out var pnv))
            {
                _promptEvaluated = pnv;
            }

            if (timings.TryGetProperty("predicted_ms"u8, out var em) && UpstreamJson.TryGetMilliseconds(em, out var emv))
            {
                _predictedMs = emv;
            }
        }
    }

    private static JsonElement NonEmptyString(JsonElement parent, ReadOnlySpan<byte> name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && !value.ValueEquals(""u8) ? value : default;
}
