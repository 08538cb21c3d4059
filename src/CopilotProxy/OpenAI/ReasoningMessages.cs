using System.Buffers;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Reasoning;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>Reasoning written as text in a whole (non-streamed) chat completion: moved from <c>message.content</c> to its own fields.</summary>
public static class ReasoningMessages
{
    /// <summary>
    /// The completion with each choice's reasoning taken out of <c>message.content</c> into <c>reasoning_content</c> (and
    /// <c>reasoning_text</c>, which Copilot reads); null when no choice had any. A message that already carries reasoning
    /// (the upstream separated it) is left as it is.
    /// </summary>
    public static JsonDocument? Separate(JsonElement completion, ReasoningFormats formats, string model, ILogger logger, out ReasoningFormats? found)
    {
        found = null;
        if (formats == ReasoningFormats.None || !completion.TryGetMember(OpenAIChunk.Choices, out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var split = new List<(string Reasoning, string Content)?>();
        foreach (var choice in choices.EnumerateArray())
        {
            var result = choice.TryGetMember(OpenAIChunk.Message, out var message) && message.TryGetMember(OpenAIChunk.Content, out var content)
                && content.ValueKind == JsonValueKind.String && !HasReasoning(message)
                ? ReasoningSplitter.SplitWhole(content.GetString()!, formats, model, logger)
                : null;
            found ??= result?.Found;
            split.Add(result is { } r ? (r.Reasoning, r.Content) : null);
        }

        if (found is null)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, RelayJson.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in completion.EnumerateObject())
            {
                if (!property.NameEquals(OpenAIChunk.Choices))
                {
                    property.WriteTo(writer);
                    continue;
                }

                writer.WriteStartArray(OpenAIChunk.Choices);
                var i = 0;
                foreach (var choice in choices.EnumerateArray())
                {
                    WriteChoice(writer, choice, split[i++]);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        return JsonDocument.Parse(buffer.WrittenMemory);
    }

    private static bool HasReasoning(JsonElement message) =>
        (message.TryGetMember(OpenAIChunk.ReasoningContent, out var r) && r.ValueKind == JsonValueKind.String && !r.ValueEquals(""u8))
        || (message.TryGetMember(OpenAIChunk.Reasoning, out var alt) && alt.ValueKind == JsonValueKind.String && !alt.ValueEquals(""u8));

    private static void WriteChoice(Utf8JsonWriter writer, JsonElement choice, (string Reasoning, string Content)? split)
    {
        if (split is not { } parts || choice.ValueKind != JsonValueKind.Object)
        {
            choice.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        foreach (var property in choice.EnumerateObject())
        {
            if (!property.NameEquals(OpenAIChunk.Message) || property.Value.ValueKind != JsonValueKind.Object)
            {
                property.WriteTo(writer);
                continue;
            }

            writer.WriteStartObject(OpenAIChunk.Message);
            foreach (var field in property.Value.EnumerateObject())
            {
                if (field.NameEquals(OpenAIChunk.Content))
                {
                    writer.WriteString(OpenAIChunk.Content, parts.Content);
                    if (parts.Reasoning.Length > 0)
                    {
                        writer.WriteString(OpenAIChunk.ReasoningContent, parts.Reasoning);
                        writer.WriteString(OpenAIChunk.ReasoningText, parts.Reasoning);
                    }
                }
                else
                {
                    field.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }
}
