using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CopilotProxy.OpenAI;
using CopilotProxy.Upstream;

namespace CopilotProxy.Ollama;

/// <summary>The lines a translation writes besides text: whole tool calls, the header every line starts with, and the final metrics.</summary>
public sealed partial class ChunkTranslator
{
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

        var json = BeginTextLine();
        json.WriteString(TextName, text);
        EndTextLine(json);
    }

    /// <summary>
    /// Starts a line that carries text: the header and, for /api/chat, the message with its role. The caller writes the
    /// text under <see cref="TextName"/> and any <c>thinking</c>, then <see cref="EndTextLine"/>; every path that emits
    /// text (document, fast, repair) shares this frame.
    /// </summary>
    private Utf8JsonWriter BeginTextLine()
    {
        var json = _lines.BeginLine();
        json.WriteStartObject();
        WriteHeader(json);
        if (_shape == OllamaAnswerShape.Chat)
        {
            json.WriteStartObject("message"u8);
            json.WriteString("role"u8, "assistant"u8);
        }

        return json;
    }

    /// <summary>/api/chat carries text in <c>message.content</c>, /api/generate in <c>response</c>.</summary>
    private ReadOnlySpan<byte> TextName => _shape == OllamaAnswerShape.Chat ? "content"u8 : "response"u8;

    private void EndTextLine(Utf8JsonWriter json)
    {
        if (_shape == OllamaAnswerShape.Chat)
        {
            json.WriteEndObject();
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

        // Count and duration describe the same tokens: llama.cpp's prompt_ms covers only the prompt tokens it evaluated
        // (timings.prompt_n), not the ones it reused from its cache (cache_n), which usage.prompt_tokens includes.
        if ((_promptMs is not null && _promptEvaluated is { } evaluated ? evaluated : _promptTokens) is { } prompt)
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
}
