using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Http;

/// <summary>The outcome of reading a client's JSON body: a document, or the status and message to refuse it with.</summary>
public readonly record struct ClientJsonBody(JsonDocument? Document, int Status, string? Error)
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 256 };

    /// <summary>Reads and parses the request body; malformed JSON is the client's error (400), never relayed for the upstream to choke on.</summary>
    public static async Task<ClientJsonBody> ReadAsync(HttpContext context)
    {
        try
        {
            var document = await JsonDocument.ParseAsync(context.Request.Body, Options, context.RequestAborted);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                return new(null, StatusCodes.Status400BadRequest, "The request body must be a JSON object.");
            }

            return new(document, StatusCodes.Status200OK, null);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" at line {line + 1}, position {ex.BytePositionInLine + 1}" : string.Empty;
            return new(null, StatusCodes.Status400BadRequest, $"The request body is not valid JSON{where}.");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new(null, StatusCodes.Status413PayloadTooLarge,
                "The request body is larger than the proxy accepts. Raise MAX_REQUEST_BODY_MB if this request is legitimate (large images, long contexts).");
        }
    }

    /// <summary>The top-level string property, or null when it is absent, empty or not a string.</summary>
    public static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

    /// <summary>The top-level boolean property, or the fallback when absent or not a boolean.</summary>
    public static bool GetBool(JsonElement root, string name, bool fallback) =>
        root.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => fallback,
        } : fallback;
}
