using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.ToolCalls;

namespace CopilotProxy.OpenAI;

/// <summary>Writer settings shared by everything that re-emits upstream JSON.</summary>
internal static class RelayJson
{
    /// <summary>
    /// Relaxed escaping keeps quotes, apostrophes and non-ASCII text as the upstream sent them instead of \u-escaping
    /// them: the bytes stay close to the upstream's and multilingual output isn't inflated sixfold. The output is
    /// never embedded in HTML, which is the only place the strict encoder protects.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };
}

/// <summary>Rewrites whole (non-streamed) OpenAI JSON bodies on their way through the relay.</summary>
public static class JsonRelay
{
    /// <summary>The client's request for the upstream: unchanged except <c>model</c>, which becomes the upstream's own key.</summary>
    public static void WriteRequest(JsonElement root, string upstreamModel, IBufferWriter<byte> output) =>
        WriteRequest(root, upstreamModel, ModelDefaults.None, output);

    /// <summary>
    /// The client's request for the upstream: <c>model</c> becomes the upstream's own key, and each of the entry's
    /// <paramref name="defaults"/> is added unless the client set that field (a JSON <c>null</c> counts as not set).
    /// <paramref name="omit"/> names a field not to forward.
    /// </summary>
    public static void WriteRequest(JsonElement root, string upstreamModel, ModelDefaults defaults, IBufferWriter<byte> output, string? omit = null)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString(OpenAIChunk.Model, upstreamModel);
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.Model) || (omit is not null && property.NameEquals(omit))
                || (property.Value.ValueKind == JsonValueKind.Null && HasDefault(defaults, property.Name)))
            {
                continue;
            }

            OpenAIChunk.CopyProperty(property, writer);
        }

        WriteDefaults(root, defaults, writer);
        writer.WriteEndObject();
    }

    private static bool IsSet(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    private static bool HasDefault(ModelDefaults d, string name) => name switch
    {
        "temperature" => d.Temperature is not null,
        "max_tokens" => d.MaxTokens is not null,
        "top_p" => d.TopP is not null,
        "presence_penalty" => d.PresencePenalty is not null,
        "frequency_penalty" => d.FrequencyPenalty is not null,
        "seed" => d.Seed is not null,
        "stop" => d.Stop is not null,
        "reasoning_effort" => d.ReasoningEffort is not null,
        _ => false,
    };

    private static void WriteDefaults(JsonElement root, ModelDefaults d, Utf8JsonWriter writer)
    {
        if (d.Temperature is { } temperature && !IsSet(root, "temperature"))
        {
            writer.WriteNumber("temperature"u8, temperature);
        }

        // max_completion_tokens is the newer spelling of the same limit; a client that sets it has set the limit.
        if (d.MaxTokens is { } maxTokens && !IsSet(root, "max_tokens") && !IsSet(root, "max_completion_tokens"))
        {
            writer.WriteNumber("max_tokens"u8, maxTokens);
        }

        if (d.TopP is { } topP && !IsSet(root, "top_p"))
        {
            writer.WriteNumber("top_p"u8, topP);
        }

        if (d.PresencePenalty is { } presence && !IsSet(root, "presence_penalty"))
        {
            writer.WriteNumber("presence_penalty"u8, presence);
        }

        if (d.FrequencyPenalty is { } frequency && !IsSet(root, "frequency_penalty"))
        {
            writer.WriteNumber("frequency_penalty"u8, frequency);
        }

        if (d.Seed is { } seed && !IsSet(root, "seed"))
        {
            writer.WriteNumber("seed"u8, seed);
        }

        if (d.Stop is { } stop && !IsSet(root, "stop"))
        {
            writer.WriteStartArray("stop"u8);
            foreach (var item in stop)
            {
                writer.WriteStringValue(item);
            }

            writer.WriteEndArray();
        }

        if (d.ReasoningEffort is { } effort && !IsSet(root, "reasoning_effort"))
        {
            writer.WriteString("reasoning_effort"u8, effort);
        }
    }

    /// <summary>
    /// An embeddings response for the client: <c>model</c> is the name the client used, and with <paramref name="base64"/>
    /// every float array becomes what OpenAI sends for <c>encoding_format: "base64"</c>: little-endian float32, standard
    /// base64. LM Studio ignores encoding_format and always sends floats (docs/protocol.md §7), and the official SDKs ask for
    /// base64 by default, so without this they decode floats as garbage.
    /// </summary>
    public static void WriteEmbeddings(JsonElement root, string clientModel, bool base64, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.Model))
            {
                writer.WriteString(OpenAIChunk.Model, clientModel);
            }
            else if (base64 && property.NameEquals("data"u8) && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray("data"u8);
                foreach (var item in property.Value.EnumerateArray())
                {
                    WriteEmbeddingItem(item, writer);
                }

                writer.WriteEndArray();
            }
            else
            {
                OpenAIChunk.CopyProperty(property, writer);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteEmbeddingItem(JsonElement item, Utf8JsonWriter writer)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            OpenAIChunk.CopyValue(item, writer);
            return;
        }

        writer.WriteStartObject();
        foreach (var property in item.EnumerateObject())
        {
            if (property.NameEquals("embedding"u8) && property.Value.ValueKind == JsonValueKind.Array)
            {
                var vector = property.Value;
                var bytes = new byte[vector.GetArrayLength() * sizeof(float)];
                var offset = 0;
                foreach (var number in vector.EnumerateArray())
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), number.GetSingle());
                    offset += sizeof(float);
                }

                writer.WriteBase64String("embedding"u8, bytes);
            }
            else
            {
                OpenAIChunk.CopyProperty(property, writer);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// A completion for the client: <c>model</c> is the name the client used, every tool call has a non-empty id (LM Studio
    /// has sent empty ones, which it then rejects when they come back in history), and a turn with tool calls finishes as
    /// <c>tool_calls</c>.
    /// </summary>
    /// <param name="newRepair">Creates a tool-call repair per choice (TOOL_CALL_REPAIR, requests with tools); null: none.</param>
    /// <returns>How many tool calls the repair made out of text.</returns>
    public static int WriteCompletion(JsonElement root, string clientModel, IBufferWriter<byte> output, Func<ToolCallRepair>? newRepair = null)
    {
        var repaired = 0;
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.Model))
            {
                writer.WriteString(OpenAIChunk.Model, clientModel);
            }
            else if (property.NameEquals(OpenAIChunk.Choices) && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray(OpenAIChunk.Choices);
                foreach (var choice in property.Value.EnumerateArray())
                {
                    if (newRepair is null || RepairedToolCalls.TryWriteChoice(choice, writer, newRepair) is not (> 0 and var count))
                    {
                        WriteChoice(choice, writer);
                    }
                    else
                    {
                        repaired += count;
                    }
                }

                writer.WriteEndArray();
            }
            else
            {
                OpenAIChunk.CopyProperty(property, writer);
            }
        }

        writer.WriteEndObject();
        return repaired;
    }

    private static void WriteChoice(JsonElement choice, Utf8JsonWriter writer)
    {
        if (choice.ValueKind != JsonValueKind.Object)
        {
            OpenAIChunk.CopyValue(choice, writer);
            return;
        }

        var hasCalls = choice.TryGetProperty(OpenAIChunk.Message, out var message) && message.ValueKind == JsonValueKind.Object
            && message.TryGetProperty(OpenAIChunk.ToolCalls, out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
        writer.WriteStartObject();
        foreach (var property in choice.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.Message) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName(OpenAIChunk.Message);
                WriteMessage(property.Value, writer);
            }
            else if (property.NameEquals(OpenAIChunk.FinishReason) && property.Value.ValueKind == JsonValueKind.String
                && OpenAIChunk.FinishReasonFor(property.Value.GetString(), hasCalls) is "tool_calls" && !property.Value.ValueEquals("tool_calls"u8))
            {
                writer.WriteString(OpenAIChunk.FinishReason, "tool_calls"u8);
            }
            else
            {
                OpenAIChunk.CopyProperty(property, writer);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteMessage(JsonElement message, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var property in message.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.ToolCalls) && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray(OpenAIChunk.ToolCalls);
                foreach (var call in property.Value.EnumerateArray())
                {
                    WriteToolCall(call, writer);
                }

                writer.WriteEndArray();
            }
            else
            {
                OpenAIChunk.CopyProperty(property, writer);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteToolCall(JsonElement call, Utf8JsonWriter writer)
    {
        if (call.ValueKind != JsonValueKind.Object)
        {
            OpenAIChunk.CopyValue(call, writer);
            return;
        }

        writer.WriteStartObject();
        var hasId = false;
        foreach (var property in call.EnumerateObject())
        {
            if (property.NameEquals(OpenAIChunk.Id))
            {
                if (OpenAIChunk.ToolCallId(call) is not null)
                {
                    OpenAIChunk.CopyProperty(property, writer);
                    hasId = true;
                }
            }
            else
            {
                OpenAIChunk.CopyProperty(property, writer);
            }
        }

        if (!hasId)
        {
            writer.WriteString(OpenAIChunk.Id, OpenAIChunk.NewToolCallId());
        }

        writer.WriteEndObject();
    }
}
