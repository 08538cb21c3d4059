using System.Buffers;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>Writes a Responses or Messages request for the upstream: its model, and the entry's defaults in that API's spelling.</summary>
public static class EventApiRequest
{
    /// <summary>
    /// The request with <c>model</c> set to the upstream's key and each default added unless the client set it. The two
    /// APIs name the limits differently from chat completions: Responses has <c>max_output_tokens</c> and
    /// <c>reasoning.effort</c>; Messages has <c>max_tokens</c> and <c>stop_sequences</c>. Penalties and seeds exist in neither.
    /// </summary>
    public static void Write(JsonElement root, string upstreamModel, ModelDefaults defaults, EventApi api, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(defaults);
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

        if (defaults.Temperature is { } temperature && !IsSet(root, "temperature"))
        {
            writer.WriteNumber("temperature"u8, temperature);
        }

        if (defaults.TopP is { } topP && !IsSet(root, "top_p"))
        {
            writer.WriteNumber("top_p"u8, topP);
        }

        var limit = api == EventApi.Responses ? "max_output_tokens" : "max_tokens";
        if (defaults.MaxTokens is { } maxTokens && !IsSet(root, limit))
        {
            writer.WriteNumber(limit, maxTokens);
        }

        if (api == EventApi.Messages && defaults.Stop is { } stop && !IsSet(root, "stop_sequences"))
        {
            writer.WriteStartArray("stop_sequences"u8);
            foreach (var item in stop)
            {
                writer.WriteStringValue(item);
            }

            writer.WriteEndArray();
        }

        if (api == EventApi.Responses && defaults.ReasoningEffort is { } effort && !IsSet(root, "reasoning"))
        {
            writer.WriteStartObject("reasoning"u8);
            writer.WriteString("effort"u8, effort);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    private static bool IsSet(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;
}
