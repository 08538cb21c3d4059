using System.Buffers;
using System.Text.Json;

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
    public static void WriteRequest(JsonElement root, string upstreamModel, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("model"u8, upstreamModel);
        foreach (var property in root.EnumerateObject())
        {
            if (!property.NameEquals("model"u8))
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// A completion for the client: <c>model</c> is the name the client used, every tool call has a non-empty id (LM Studio
    /// has sent empty ones, which it then rejects when they come back in history), and a turn with tool calls finishes as
    /// <c>tool_calls</c>.
    /// </summary>
    public static void WriteCompletion(JsonElement root, string clientModel, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("model"u8))
            {
                writer.WriteString("model"u8, clientModel);
            }
            else if (property.NameEquals("choices"u8) && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray("choices"u8);
                foreach (var choice in property.Value.EnumerateArray())
                {
                    WriteChoice(choice, writer);
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

    private static void WriteChoice(JsonElement choice, Utf8JsonWriter writer)
    {
        if (choice.ValueKind != JsonValueKind.Object)
        {
            choice.WriteTo(writer);
            return;
        }

        var hasCalls = choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
            && message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
        writer.WriteStartObject();
        foreach (var property in choice.EnumerateObject())
        {
            if (property.NameEquals("message"u8) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName("message"u8);
                WriteMessage(property.Value, writer);
            }
            else if (property.NameEquals("finish_reason"u8) && hasCalls && property.Value.ValueEquals("stop"u8))
            {
                writer.WriteString("finish_reason"u8, "tool_calls"u8);
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteMessage(JsonElement message, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var property in message.EnumerateObject())
        {
            if (property.NameEquals("tool_calls"u8) && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray("tool_calls"u8);
                foreach (var call in property.Value.EnumerateArray())
                {
                    WriteToolCall(call, writer);
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

    private static void WriteToolCall(JsonElement call, Utf8JsonWriter writer)
    {
        if (call.ValueKind != JsonValueKind.Object)
        {
            call.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        var hasId = false;
        foreach (var property in call.EnumerateObject())
        {
            if (property.NameEquals("id"u8))
            {
                if (property.Value.ValueKind == JsonValueKind.String && property.Value.GetString() is { Length: > 0 })
                {
                    property.WriteTo(writer);
                    hasId = true;
                }
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        if (!hasId)
        {
            writer.WriteString("id"u8, "call_" + Guid.NewGuid().ToString("N")[..24]);
        }

        writer.WriteEndObject();
    }
}
