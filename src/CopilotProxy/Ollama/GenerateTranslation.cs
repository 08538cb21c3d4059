using System.Buffers;
using System.Text.Json;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Ollama;

/// <summary>
/// Ollama generate request → an OpenAI request. A templated prompt becomes a chat turn (system + user with images) on
/// <c>/v1/chat/completions</c>, so LM Studio applies the model's template as Ollama would; <c>raw:true</c> means "no
/// template", which is exactly <c>/v1/completions</c>.
/// </summary>
public static class GenerateTranslation
{
    public const string ChatPath = "v1/chat/completions";
    public const string CompletionsPath = "v1/completions";

    public static string UpstreamPath(GenerateRequest request) => request.Raw == true ? CompletionsPath : ChatPath;

    /// <summary>Null when the request can be translated, else Ollama's error text and status.</summary>
    public static (int Status, string Message)? Validate(GenerateRequest request, string clientModel)
    {
        if (!string.IsNullOrEmpty(request.Suffix))
        {
            // Fill-in-the-middle needs the model's FIM tokens, which only a template-aware server knows; LM Studio's OpenAI
            // endpoints have no suffix field. Ollama answers the same for models without the "insert" capability.
            return (400, $"\"{clientModel}\" does not support insert");
        }

        if (request.Raw == true && request.Images is { Count: > 0 })
        {
            return (400, "images need the model's chat template, so they can't be combined with raw:true on LM Studio; drop raw or the images");
        }

        return ChatTranslation.ValidateFormat(request.Format) is { } formatError ? (400, formatError)
            : ChatTranslation.ValidateImages(request.Images) is { } imageError ? (400, imageError)
            : null;
    }

    public static void WriteRequest(GenerateRequest request, UpstreamRequestSettings settings, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("model"u8, settings.UpstreamModel);
        if (request.Raw == true)
        {
            writer.WriteString("prompt"u8, request.Prompt ?? string.Empty);
        }
        else
        {
            List<ChatMessage> messages = [];
            if (!string.IsNullOrEmpty(request.System))
            {
                messages.Add(new ChatMessage { Role = "system", Content = request.System });
            }

            messages.Add(new ChatMessage { Role = "user", Content = request.Prompt ?? string.Empty, Images = request.Images });
            writer.WriteStartArray("messages"u8);
            ChatTranslation.WriteMessages(messages, writer);
            writer.WriteEndArray();
        }

        ChatTranslation.WriteGenerationFields(writer, request.Format, request.Options, settings, reasoning: request.Raw != true);
        writer.WriteEndObject();
    }
}
