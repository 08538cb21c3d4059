using System.Buffers;
using System.Text.Json;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Ollama;

/// <summary>Ollama <c>/api/embed</c> and legacy <c>/api/embeddings</c> ↔ OpenAI <c>/v1/embeddings</c> (docs/protocol.md §2.7).</summary>
public static class EmbedTranslation
{
    public const string UpstreamPath = "v1/embeddings";

    /// <summary>Null when <c>input</c> is a string or an array of strings, else Ollama's error text.</summary>
    public static string? ValidateInput(JsonElement? input)
    {
        if (input is not { } value || value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.String)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            return null;
        }

        return "invalid input type: input must be a string or an array of strings";
    }

    /// <summary>True when there is nothing to embed; Ollama then only loads the model and answers with no embeddings.</summary>
    public static bool IsEmpty(JsonElement? input) => input is not { } value
        || value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined
        || (value.ValueKind == JsonValueKind.String && value.ValueEquals(""u8))
        || (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 0);

    /// <summary>
    /// The upstream request. <c>encoding_format</c> is pinned to float because some SDK defaults ask for base64 and LM
    /// Studio ignores it (docs/protocol.md §7); <c>truncate</c> has no OpenAI field and is left to LM Studio's own limit.
    /// </summary>
    public static void WriteRequest(string upstreamModel, JsonElement input, int? dimensions, int? ttlSeconds, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("model"u8, upstreamModel);
        writer.WritePropertyName("input"u8);
        input.WriteTo(writer);
        WriteTail(writer, dimensions, ttlSeconds);
    }

    /// <summary>The legacy endpoint's single <c>prompt</c>.</summary>
    public static void WriteRequest(string upstreamModel, string prompt, int? ttlSeconds, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output, RelayJson.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("model"u8, upstreamModel);
        writer.WriteString("input"u8, prompt);
        WriteTail(writer, null, ttlSeconds);
    }

    private static void WriteTail(Utf8JsonWriter writer, int? dimensions, int? ttlSeconds)
    {
        writer.WriteString("encoding_format"u8, "float"u8);
        if (dimensions is > 0 and var d)
        {
            writer.WriteNumber("dimensions"u8, d);
        }

        if (ttlSeconds is { } ttl)
        {
            writer.WriteNumber("ttl"u8, ttl);
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// The vectors in input order. <c>/api/embed</c> returns unit-length vectors (Ollama normalises, so clients use a plain
    /// dot product as cosine similarity); when <c>dimensions</c> was asked for and the upstream ignored it, the vector is
    /// cut first, then normalised, which is what Ollama does.
    /// </summary>
    public static List<float[]> Vectors(OpenAIEmbeddingList upstream, int? dimensions, bool normalize)
    {
        var data = upstream.Data ?? [];
        var vectors = new List<float[]>(data.Count);
        foreach (var item in data.OrderBy(d => d.Index))
        {
            var vector = item.Embedding ?? [];
            if (dimensions is > 0 and var d && vector.Length > d)
            {
                vector = vector[..d];
            }

            if (normalize)
            {
                Normalize(vector);
            }

            vectors.Add(vector);
        }

        return vectors;
    }

    public static void Normalize(Span<float> vector)
    {
        double sum = 0;
        foreach (var x in vector)
        {
            sum += (double)x * x;
        }

        if (sum <= 0)
        {
            return;
        }

        var scale = (float)(1 / Math.Sqrt(sum));
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] *= scale;
        }
    }
}
