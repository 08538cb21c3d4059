using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.Ollama;

/// <summary>Which Ollama answer the chunks become: <c>/api/chat</c> (<c>message.content</c>) or <c>/api/generate</c> (<c>response</c>).</summary>
public enum OllamaAnswerShape
{
    Chat,
    Generate,
}

/// <summary>
/// OpenAI chunks → Ollama lines (protocol.md §4.3 → §2.4/§2.5). One instance per request.
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
public sealed class ChunkTranslator : IUpstreamEventSink, IDisposable
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
    private List<CompletedToolCall>? _completedCalls;
    private long _upstreamSent;
    private long _firstToken;
    private long _lastToken;
    private string? _finishReason;
    private int? _promptTokens;
    private int? _completionTokens;
    private double? _promptMs;
    private double? _predictedMs;

    /// <param name="output">Where lines go: the response body, or a buffer in tests.</param>
    /// <param name="clientModel">The model name as the client wrote it; echoed on every line.</param>
    /// <param name="stream">False aggregates everything into the one object <see cref="WriteDone"/> writes.</param>
    /// <param name="showThinking">False drops reasoning: the client said <c>think:false</c>, so it gets no <c>thinking</c> field.</param>
    /// <param name="requestStarted">Stopwatch timestamp of the request's arrival, for <c>total_duration</c>.</param>
    public ChunkTranslator(IBufferWriter<byte> output, string clientModel, OllamaAnswerShape shape, bool stream, bool showThinking, long requestStarted)
    {
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

    /// <summary>Marks when the upstream request left, so time to first token can be told apart from the proxy's own work.</summary>
    public void MarkUpstreamSent(long timestamp) => _upstreamSent = timestamp;

    /// <summary>Handles one upstream SSE event (or one whole JSON completion); returns true when lines were written and should be flushed.</summary>
    public bool HandleEvent(ReadOnlySpan<byte> data)
    {
        var trimmed = data.Trim(" \r\n\t"u8);
        if (trimmed.SequenceEqual("[DONE]"u8))
        {
            SawDone = true;
            Finished = true;
            EmitToolCalls();
            return _lines.TakeWritten();
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(trimmed);
            document = JsonDocument.ParseValue(ref reader);
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

            if (root.TryGetProperty("error"u8, out _) && !root.TryGetProperty("choices"u8, out _))
            {
                UpstreamError = UpstreamErrors.ParseErrorBody(trimmed).Message ?? "the upstream reported an error";
                return false;
            }

            ObserveUsage(root);
            if (root.TryGetProperty("choices"u8, out var choices) && choices.ValueKind == JsonValueKind.Array)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    // Ollama has one answer per request; further choices (n > 1) have nowhere to go.
                    if (choice.ValueKind == JsonValueKind.Object && (!choice.TryGetProperty("index"u8, out var index) || (index.ValueKind == JsonValueKind.Number && index.TryGetInt32(out var i) && i == 0)))
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
    public void WriteError(string message) => _lines.WriteError(message);

    public void Dispose()
    {
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
        var delta = choice.TryGetProperty("delta"u8, out var d) && d.ValueKind == JsonValueKind.Object ? d
            : choice.TryGetProperty("message"u8, out var m) && m.ValueKind == JsonValueKind.Object ? m
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

            if (delta.TryGetProperty("tool_calls"u8, out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
            {
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

        if (text.ValueKind == JsonValueKind.String || reasoning.ValueKind == JsonValueKind.String)
        {
            MarkToken();
            EmitText(text, reasoning);
        }

        if (choice.TryGetProperty("finish_reason"u8, out var finish) && finish.ValueKind == JsonValueKind.String)
        {
            _finishReason = finish.GetString();
            Finished = true;
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

        var json = _lines.BeginLine();
        json.WriteStartObject();
        WriteHeader(json);
        if (_shape == OllamaAnswerShape.Chat)
        {
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            WriteTextValue(json, "content"u8, text);
            if (reasoning.ValueKind == JsonValueKind.String)
            {
                json.WritePropertyName("thinking"u8);
                reasoning.WriteTo(json);
            }

            json.WriteEndObject();
        }
        else
        {
            WriteTextValue(json, "response"u8, text);
            if (reasoning.ValueKind == JsonValueKind.String)
            {
                json.WritePropertyName("thinking"u8);
                reasoning.WriteTo(json);
            }
        }

        json.WriteBoolean("done"u8, false);
        json.WriteEndObject();
        _lines.EndLine();
    }

    /// <summary>Copies the upstream's JSON string as-is (already escaped) instead of decoding it into a .NET string and re-encoding.</summary>
    private static void WriteTextValue(Utf8JsonWriter json, ReadOnlySpan<byte> name, JsonElement text)
    {
        if (text.ValueKind == JsonValueKind.String)
        {
            json.WritePropertyName(name);
            text.WriteTo(json);
        }
        else
        {
            json.WriteString(name, ""u8);
        }
    }

    /// <summary>Emits the accumulated tool calls once, when the turn has finished.</summary>
    private void EmitToolCalls()
    {
        if (_completedCalls is not null || _toolCalls.Count == 0)
        {
            return;
        }

        var completed = _toolCalls.Complete();
        _completedCalls = [];
        foreach (var call in completed)
        {
            if (call.Arguments is null)
            {
                // Not a JSON object: an Ollama client can't run it, and dropping it silently is the bug users report most.
                // The model's raw output goes out as text instead, so the user at least sees what it tried.
                EmitPlainText($"[tool call {call.Name} with arguments that are not a JSON object: {call.RawArguments}]");
                continue;
            }

            _completedCalls.Add(call);
        }

        if (!_stream || _completedCalls.Count == 0)
        {
            return;
        }

        var json = _lines.BeginLine();
        json.WriteStartObject();
        WriteHeader(json);
        json.WriteStartObject("message"u8);
        json.WriteString("role"u8, "assistant"u8);
        json.WriteString("content"u8, ""u8);
        WriteToolCalls(json, _completedCalls);
        json.WriteEndObject();
        json.WriteBoolean("done"u8, false);
        json.WriteEndObject();
        _lines.EndLine();
    }

    private void EmitPlainText(string text)
    {
        if (!_stream)
        {
            _content.Append(text);
            return;
        }

        var json = _lines.BeginLine();
        json.WriteStartObject();
        WriteHeader(json);
        if (_shape == OllamaAnswerShape.Chat)
        {
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
            json.WriteString("content"u8, text);
            json.WriteEndObject();
        }
        else
        {
            json.WriteString("response"u8, text);
        }

        json.WriteBoolean("done"u8, false);
        json.WriteEndObject();
        _lines.EndLine();
    }

    private static void WriteToolCalls(Utf8JsonWriter json, List<CompletedToolCall> calls)
    {
        json.WriteStartArray("tool_calls"u8);
        foreach (var call in calls)
        {
            json.WriteStartObject();
            json.WriteString("id"u8, call.Id);
            json.WriteStartObject("function"u8);
            json.WriteNumber("index"u8, call.Index);
            json.WriteString("name"u8, call.Name);
            json.WritePropertyName("arguments"u8);
            call.Arguments!.RootElement.WriteTo(json);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private void WriteHeader(Utf8JsonWriter json)
    {
        json.WriteString("model"u8, _clientModel);
        json.WriteString("created_at"u8, DateTime.UtcNow);
    }

    /// <summary>
    /// Durations in nanoseconds, each measured for what it says:
    /// total_duration: request arrival at the proxy → this final line.
    /// prompt_eval_duration: the upstream's own prompt time when it reports one (llama.cpp <c>timings.prompt_ms</c>); otherwise
    ///   upstream request sent → first generated token, which includes prompt processing and any JIT load LM Studio does.
    /// eval_duration: the upstream's <c>timings.predicted_ms</c>, otherwise first → last generated token.
    /// load_duration: only when the proxy itself loaded the model; LM Studio does not report JIT load time, and time to
    ///   response headers is not load time, so otherwise the field is left out (Ollama omits zero metrics too).
    /// </summary>
    private void WriteMetrics(Utf8JsonWriter json, long now, TimeSpan? loadDuration)
    {
        json.WriteNumber("total_duration"u8, Nanoseconds(Stopwatch.GetElapsedTime(_requestStarted, now)));
        if (loadDuration is { } load && load > TimeSpan.Zero)
        {
            json.WriteNumber("load_duration"u8, Nanoseconds(load));
        }

        if (_promptTokens is { } prompt)
        {
            json.WriteNumber("prompt_eval_count"u8, prompt);
        }

        var promptDuration = _promptMs is { } pms ? TimeSpan.FromMilliseconds(pms)
            : _firstToken != 0 ? Stopwatch.GetElapsedTime(_upstreamSent, _firstToken) : TimeSpan.Zero;
        if (promptDuration > TimeSpan.Zero)
        {
            json.WriteNumber("prompt_eval_duration"u8, Nanoseconds(promptDuration));
        }

        if (_completionTokens is { } completion)
        {
            json.WriteNumber("eval_count"u8, completion);
        }

        var evalDuration = _predictedMs is { } ems ? TimeSpan.FromMilliseconds(ems)
            : _firstToken != 0 ? Stopwatch.GetElapsedTime(_firstToken, _lastToken) : TimeSpan.Zero;
        if (evalDuration > TimeSpan.Zero)
        {
            json.WriteNumber("eval_duration"u8, Nanoseconds(evalDuration));
        }
    }

    private static long Nanoseconds(TimeSpan duration) => duration.Ticks * 100;

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
        // LM Studio may send usage on its own choices:[] chunk or on the finish chunk (protocol.md §3.1): both are read.
        if (root.TryGetProperty("usage"u8, out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            if (UpstreamJson.TryGetInt32(usage, "prompt_tokens"u8, out var pv))
            {
                _promptTokens = pv;
            }

            if (UpstreamJson.TryGetInt32(usage, "completion_tokens"u8, out var cv))
            {
                _completionTokens = cv;
            }
        }

        if (root.TryGetProperty("timings"u8, out var timings) && timings.ValueKind == JsonValueKind.Object)
        {
            if (timings.TryGetProperty("prompt_ms"u8, out var pm) && pm.TryGetDouble(out var pmv))
            {
                _promptMs = pmv;
            }

            if (timings.TryGetProperty("predicted_ms"u8, out var em) && em.TryGetDouble(out var emv))
            {
                _predictedMs = emv;
            }
        }
    }

    private static JsonElement NonEmptyString(JsonElement parent, ReadOnlySpan<byte> name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && !value.ValueEquals(""u8) ? value : default;
}
