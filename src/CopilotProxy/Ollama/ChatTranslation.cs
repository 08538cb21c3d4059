using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Ollama;

/// <summary>Ollama's <c>think</c>: unset, off, on, or an effort level.</summary>
public enum ThinkSetting
{
    Unset,
    Off,
    On,
    Low,
    Medium,
    High,
    Max,
}

/// <summary>What the request translation needs besides the Ollama request itself.</summary>
/// <param name="UpstreamModel">The upstream's own model key (<see cref="Catalog.CatalogModel.UpstreamId"/>), never an alias.</param>
/// <param name="Think">The parsed <c>think</c> field.</param>
/// <param name="SendReasoning">False when the model catalog knows the model cannot reason; the setting is then not sent.</param>
/// <param name="TtlSeconds">LM Studio's idle TTL for a JIT-loaded model, from <c>keep_alive</c>.</param>
public readonly record struct UpstreamRequestSettings(string UpstreamModel, ThinkSetting Think, bool SendReasoning, int? TtlSeconds)
{
    /// <summary>The config.yaml entry's request defaults; a value the client set in <c>options</c> always wins.</summary>
    public ModelDefaults Defaults { get; init; } = ModelDefaults.None;
}

/// <summary>
/// Ollama chat request → OpenAI <c>/v1/chat/completions</c> request, written straight to UTF-8 (protocol.md §2.4 → §3.1).
/// The parts shared with <c>/api/generate</c> (options, format, think, keep_alive) live here too.
/// </summary>
public static partial class ChatTranslation
{
    /// <summary>Ollama's "json" mode. LM Studio rejects <c>json_object</c> ("'response_format.type' must be 'json_schema' or 'text'",
    /// lmstudio-bug-tracker#189), so JSON mode becomes a schema that admits any object.</summary>
    private static ReadOnlySpan<byte> AnyObjectSchema => """{"type":"object"}"""u8;

    public static void WriteRequest(ChatRequest request, UpstreamRequestSettings settings, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("model"u8, settings.UpstreamModel);
        writer.WriteStartArray("messages"u8);
        WriteMessages(request.Messages ?? [], writer);
        writer.WriteEndArray();
        if (request.Tools is { Count: > 0 } tools)
        {
            writer.WriteStartArray("tools"u8);
            foreach (var tool in tools)
            {
                tool.WriteTo(writer);
            }

            writer.WriteEndArray();
        }

        WriteGenerationFields(writer, request.Format, request.Options, settings, reasoning: true);
        writer.WriteEndObject();
    }

    /// <summary>The fields every translated completion request carries: streaming with usage, format, sampling, reasoning and TTL.</summary>
    internal static void WriteGenerationFields(Utf8JsonWriter writer, JsonElement? format, GenerationOptions? options, UpstreamRequestSettings settings, bool reasoning)
    {
        // Always stream, even for stream:false (aggregated locally): one translation path, and the upstream's idle
        // timeout keeps working during long generations. include_usage is what makes prompt_eval_count/eval_count possible.
        writer.WriteBoolean("stream"u8, true);
        writer.WriteStartObject("stream_options"u8);
        writer.WriteBoolean("include_usage"u8, true);
        writer.WriteEndObject();

        WriteFormat(writer, format);
        if (options is not null)
        {
            WriteOptions(writer, options);
        }

        WriteDefaults(writer, options, settings.Defaults);

        if (reasoning && settings.SendReasoning && ReasoningEffort(settings.Think) is { } effort)
        {
            writer.WriteString("reasoning_effort"u8, effort);
        }

        if (settings.TtlSeconds is { } ttl)
        {
            writer.WriteNumber("ttl"u8, ttl);
        }
    }

    /// <summary>
    /// LM Studio's OpenAI endpoint spells reasoning as <c>reasoning_effort</c> none/low/medium/high/xhigh. Models whose
    /// template has an effort knob (gpt-oss) honour the level; on/off models treat <c>none</c> as off and any level as on.
    /// </summary>

    private static void WriteFormat(Utf8JsonWriter writer, JsonElement? format)
    {
        if (format is not { } f || f.ValueKind is not (JsonValueKind.String or JsonValueKind.Object) || (f.ValueKind == JsonValueKind.String && f.ValueEquals(""u8)))
        {
            return;
        }

        writer.WriteStartObject("response_format"u8);
        writer.WriteString("type"u8, "json_schema"u8);
        writer.WriteStartObject("json_schema"u8);
        if (f.ValueKind == JsonValueKind.Object)
        {
            writer.WriteString("name"u8, "response"u8);
            writer.WriteBoolean("strict"u8, true);
            writer.WritePropertyName("schema"u8);
            f.WriteTo(writer);
        }
        else
        {
            writer.WriteString("name"u8, "json"u8);
            writer.WritePropertyName("schema"u8);
            writer.WriteRawValue(AnyObjectSchema, skipInputValidation: true);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Fills in the entry's defaults for the sampling fields the client's <c>options</c> left unset.</summary>
    private static void WriteDefaults(Utf8JsonWriter writer, GenerationOptions? options, ModelDefaults defaults)
    {
        if (ReferenceEquals(defaults, ModelDefaults.None))
        {
            return;
        }

        if (options?.NumPredict is null && defaults.MaxTokens is { } maxTokens)
        {
            writer.WriteNumber("max_tokens"u8, maxTokens);
        }

        WriteNumber(writer, "temperature"u8, options?.Temperature is null ? defaults.Temperature : null);
        WriteNumber(writer, "top_p"u8, options?.TopP is null ? defaults.TopP : null);
        WriteNumber(writer, "presence_penalty"u8, options?.PresencePenalty is null ? defaults.PresencePenalty : null);
        WriteNumber(writer, "frequency_penalty"u8, options?.FrequencyPenalty is null ? defaults.FrequencyPenalty : null);
        if (options?.Seed is null && defaults.Seed is { } seed)
        {
            writer.WriteNumber("seed"u8, seed);
        }

        if (options?.Stop is null && defaults.Stop is { Count: > 0 } stop)
        {
            writer.WriteStartArray("stop"u8);
            foreach (var item in stop)
            {
                writer.WriteStringValue(item);
            }

            writer.WriteEndArray();
        }
    }

    private static void WriteOptions(Utf8JsonWriter writer, GenerationOptions options)
    {
        // num_predict -1 (infinite) and -2 (fill the context) have no OpenAI spelling: leaving max_tokens out is the same.
        if (options.NumPredict is > 0 and var maxTokens)
        {
            writer.WriteNumber("max_tokens"u8, maxTokens);
        }

        WriteNumber(writer, "temperature"u8, options.Temperature);
        WriteNumber(writer, "top_p"u8, options.TopP);
        if (options.TopK is { } topK)
        {
            writer.WriteNumber("top_k"u8, topK);
        }

        if (options.Seed is { } seed)
        {
            writer.WriteNumber("seed"u8, seed);
        }

        if (options.Stop is { } stop)
        {
            if (stop.ValueKind == JsonValueKind.String)
            {
                writer.WriteStartArray("stop"u8);
                stop.WriteTo(writer);
                writer.WriteEndArray();
            }
            else if (stop.ValueKind == JsonValueKind.Array)
            {
                writer.WritePropertyName("stop"u8);
                stop.WriteTo(writer);
            }
        }

        WriteNumber(writer, "presence_penalty"u8, options.PresencePenalty);
        WriteNumber(writer, "frequency_penalty"u8, options.FrequencyPenalty);
        WriteNumber(writer, "repeat_penalty"u8, options.RepeatPenalty);
    }

    private static void WriteNumber(Utf8JsonWriter writer, ReadOnlySpan<byte> name, double? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
    }

    /// <summary>
    /// Writes the history. Tool results must name the call they answer (OpenAI's <c>tool_call_id</c>); Ollama clients often
    /// send neither call ids nor result ids, so missing ids are synthesised and results are linked to the oldest
    /// unanswered call with the same <c>tool_name</c>, or else the oldest unanswered call.
    /// </summary>
    internal static void WriteMessages(IReadOnlyList<ChatMessage> messages, Utf8JsonWriter writer)
    {
        List<(string Id, string Name)> unanswered = [];
        for (var m = 0; m < messages.Count; m++)
        {
            var message = messages[m];
            var role = string.IsNullOrEmpty(message.Role) ? "user" : message.Role;
            writer.WriteStartObject();
            writer.WriteString("role"u8, role);
            if (message.Images is { Count: > 0 } images)
            {
                WriteContentParts(writer, message.Content, images);
            }
            else
            {
                writer.WriteString("content"u8, message.Content ?? string.Empty);
            }

            // message.thinking is not sent back: OpenAI's history has no field for it and chat templates drop it anyway.
            if (role == "assistant" && message.ToolCalls is { Count: > 0 } calls)
            {
                writer.WriteStartArray("tool_calls"u8);
                for (var c = 0; c < calls.Count; c++)
                {
                    var call = calls[c];
                    var id = string.IsNullOrEmpty(call.Id) ? string.Create(CultureInfo.InvariantCulture, $"call_{m}_{c}") : call.Id;
                    var name = call.Function?.Name ?? string.Empty;
                    unanswered.Add((id, name));
                    writer.WriteStartObject();
                    writer.WriteString("id"u8, id);
                    writer.WriteString("type"u8, "function"u8);
                    writer.WriteStartObject("function"u8);
                    writer.WriteString("name"u8, name);
                    WriteArgumentsString(writer, call.Function?.Arguments);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }
            else if (role == "tool")
            {
                writer.WriteString("tool_call_id"u8, LinkToolResult(message, unanswered, m));
            }

            writer.WriteEndObject();
        }
    }

    private static string LinkToolResult(ChatMessage message, List<(string Id, string Name)> unanswered, int position)
    {
        var at = -1;
        if (!string.IsNullOrEmpty(message.ToolCallId))
        {
            at = unanswered.FindIndex(c => c.Id == message.ToolCallId);
            if (at >= 0)
            {
                unanswered.RemoveAt(at);
            }

            return message.ToolCallId;
        }

        if (!string.IsNullOrEmpty(message.ToolName))
        {
            at = unanswered.FindIndex(c => c.Name == message.ToolName);
        }

        if (at < 0 && unanswered.Count > 0)
        {
            at = 0;
        }

        if (at < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"call_{position}");
        }

        var id = unanswered[at].Id;
        unanswered.RemoveAt(at);
        return id;
    }

    /// <summary>Ollama arguments are a JSON object; OpenAI wants the same JSON as a string. The raw bytes are copied, never re-modelled.</summary>
    private static void WriteArgumentsString(Utf8JsonWriter writer, JsonElement? arguments)
    {
        switch (arguments)
        {
            case { ValueKind: JsonValueKind.String } text:
                writer.WritePropertyName("arguments"u8);
                text.WriteTo(writer);
                break;
            case { ValueKind: JsonValueKind.Object or JsonValueKind.Array } json:
                writer.WriteString("arguments"u8, JsonMarshal.GetRawUtf8Value(json));
                break;
            default:
                writer.WriteString("arguments"u8, "{}"u8);
                break;
        }
    }

    /// <summary>Text plus images as OpenAI content parts; Ollama's raw base64 becomes a data URL (protocol.md §5 #14).</summary>
    private static void WriteContentParts(Utf8JsonWriter writer, string? text, List<string> images)
    {
        writer.WriteStartArray("content"u8);
        if (!string.IsNullOrEmpty(text))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "text"u8);
            writer.WriteString("text"u8, text);
            writer.WriteEndObject();
        }

        foreach (var image in images)
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "image_url"u8);
            writer.WriteStartObject("image_url"u8);
            writer.WritePropertyName("url"u8);
            if (image.StartsWith("data:", StringComparison.Ordinal))
            {
                writer.WriteStringValue(image);
            }
            else
            {
                // Written in two segments so a multi-megabyte image is not copied into a concatenated string first.
                writer.WriteStringValueSegment(DataUrlPrefix(image), isFinalSegment: false);
                writer.WriteStringValueSegment(image, isFinalSegment: true);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    /// <summary>Ollama sends bare base64 without a media type; the file signature tells it (upstreams validate <c>data:image/…</c>).</summary>
    internal static string DataUrlPrefix(string base64) =>
        base64.StartsWith("iVBORw0KGgo", StringComparison.Ordinal) ? "data:image/png;base64,"
        : base64.StartsWith("/9j/", StringComparison.Ordinal) ? "data:image/jpeg;base64,"
        : base64.StartsWith("R0lGOD", StringComparison.Ordinal) ? "data:image/gif;base64,"
        : base64.StartsWith("UklGR", StringComparison.Ordinal) ? "data:image/webp;base64,"
        : base64.StartsWith("Qk", StringComparison.Ordinal) ? "data:image/bmp;base64,"
        // Unknown signature: JPEG is the most common camera/screenshot format and upstreams decode by content anyway.
        : "data:image/jpeg;base64,";
}
