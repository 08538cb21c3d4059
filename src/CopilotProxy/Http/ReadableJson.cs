using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Http;

/// <summary>
/// JSON the proxy writes itself (error bodies, the dashboard's API), with relaxed escaping: a message such as
/// <c>model 'x' not found</c> stays readable instead of becoming <c>model \u0027x\u0027 not found</c>. These bodies are
/// never embedded in HTML, which is the only place the strict encoder protects.
/// </summary>
public static class ReadableJson
{
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>As <see cref="WriterOptions"/>, indented: JSON a person reads or pastes (<c>copilot-proxy clients --json</c>, <c>GET /clients</c>).</summary>
    public static readonly JsonWriterOptions IndentedWriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true };

    public static async Task WriteAsync<T>(HttpResponse response, T value, JsonTypeInfo<T> type, CancellationToken cancellationToken, bool indented = false)
    {
        response.ContentType = "application/json; charset=utf-8";
        using (var writer = new Utf8JsonWriter(response.BodyWriter, indented ? IndentedWriterOptions : WriterOptions))
        {
            JsonSerializer.Serialize(writer, value, type);
        }

        await response.BodyWriter.FlushAsync(cancellationToken);
    }

    public static byte[] SerializeToUtf8Bytes<T>(T value, JsonTypeInfo<T> type, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, indented ? IndentedWriterOptions : WriterOptions))
        {
            JsonSerializer.Serialize(writer, value, type);
        }

        return buffer.ToArray();
    }
}
