using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Http;

/// <summary>
/// JSON the proxy writes itself (every answer it builds: error bodies, model lists, health, the dashboard's API), with relaxed escaping: a message such as
/// <c>model 'x' not found</c> stays readable instead of becoming <c>model \u0027x\u0027 not found</c>. These bodies are
/// never embedded in HTML, which is the only place the strict encoder protects.
/// </summary>
/// <remarks>
/// It serializes synchronously into the response's pipe. Besides being the cheaper path for bodies this small, that is
/// what lets the contexts of types the proxy only writes carry the fast-path serializer alone (GenerationMode
/// Serialization): ASP.NET Core's <c>WriteAsJsonAsync</c> streams through metadata those contexts no longer have.
/// </remarks>
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

    /// <summary>An endpoint's answer written by <see cref="WriteAsync{T}"/>, with its status.</summary>
    public static IResult Result<T>(T value, JsonTypeInfo<T> type, int statusCode = StatusCodes.Status200OK) => new JsonResult<T>(value, type, statusCode);

    public static byte[] SerializeToUtf8Bytes<T>(T value, JsonTypeInfo<T> type, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, indented ? IndentedWriterOptions : WriterOptions))
        {
            JsonSerializer.Serialize(writer, value, type);
        }

        return buffer.ToArray();
    }

    private sealed class JsonResult<T>(T value, JsonTypeInfo<T> type, int statusCode) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = statusCode;
            return WriteAsync(httpContext.Response, value, type, httpContext.RequestAborted);
        }
    }
}
