using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Http;

/// <summary>What was wrong with a client's JSON body; each front door words it in its protocol's style.</summary>
public enum ClientBodyProblem
{
    None,

    /// <summary>No body, or JSON <c>null</c>.</summary>
    Missing,

    /// <summary>Not JSON, or a value of the wrong type for the request's shape.</summary>
    Malformed,

    /// <summary>Valid JSON, but not an object.</summary>
    NotAnObject,

    /// <summary>Larger than MAX_REQUEST_BODY_MB.</summary>
    TooLarge,
}

/// <summary>A client's parsed body, or the problem that refused it (always the client's error: 400, or 413 when too large).</summary>
/// <remarks>
/// For <see cref="ClientBodyProblem.Malformed"/>, <c>Path</c> (<c>$.messages[0].content</c>), <c>Line</c> and <c>Position</c>
/// (zero-based) come from the exception's fields, never its message: the AOT build strips messages to resource keys.
/// </remarks>
public readonly record struct ClientBody<T>(T? Value, ClientBodyProblem Problem, string? Path, long? Line, long? Position)
    where T : class
{
    public int Status => Problem == ClientBodyProblem.TooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
}

/// <summary>
/// The one body reader of both front doors: reads and parses a client's JSON body, so malformed JSON is the client's
/// error (400), never relayed for the upstream to choke on, and an oversized body is a 413 naming the setting.
/// </summary>
public readonly record struct ClientJsonBody(JsonDocument? Document, int Status, string? Error)
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 256 };

    /// <summary>Reads the body into <typeparamref name="T"/> (the Ollama front door's typed requests).</summary>
    public static Task<ClientBody<T>> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class =>
        ReadAsync(context, (body, cancel) => JsonSerializer.DeserializeAsync(body, type, cancel));

    /// <summary>Reads the body into a document whose root is an object, worded for the OpenAI front door.</summary>
    public static async Task<ClientJsonBody> ReadAsync(HttpContext context)
    {
        var body = await ReadAsync(context, async (stream, cancel) =>
        {
            var document = await JsonDocument.ParseAsync(stream, Options, cancel);
            try
            {
                StrictJson.Validate(JsonMarshal.GetRawUtf8Value(document.RootElement));
            }
            catch
            {
                document.Dispose();
                throw;
            }

            return document;
        });
        if (body.Value is { RootElement.ValueKind: not JsonValueKind.Object } notObject)
        {
            notObject.Dispose();
            body = body with { Value = null, Problem = ClientBodyProblem.NotAnObject };
        }

        return body.Problem switch
        {
            ClientBodyProblem.None => new(body.Value, StatusCodes.Status200OK, null),
            ClientBodyProblem.TooLarge => new(null, body.Status,
                "The request body is larger than the proxy accepts. Raise MAX_REQUEST_BODY_MB if this request is legitimate (large images, long contexts)."),
            ClientBodyProblem.Malformed => new(null, body.Status,
                $"The request body is not valid JSON{(body.Line is { } line ? $" at line {line + 1}, position {body.Position + 1}" : string.Empty)}."),
            ClientBodyProblem.Missing => new(null, body.Status, "The request body is empty; send a JSON object."),
            _ => new(null, body.Status, "The request body must be a JSON object."),
        };
    }

    private static async Task<ClientBody<T>> ReadAsync<T>(HttpContext context, Func<Stream, CancellationToken, ValueTask<T?>> parse)
        where T : class
    {
        if (context.Request.ContentLength == 0)
        {
            return new(null, ClientBodyProblem.Missing, null, null, null);
        }

        try
        {
            return await parse(context.Request.Body, context.RequestAborted) is { } value
                ? new(value, ClientBodyProblem.None, null, null, null)
                : new(null, ClientBodyProblem.Missing, null, null, null);
        }
        catch (JsonException ex)
        {
            return new(null, ClientBodyProblem.Malformed, ex.Path, ex.LineNumber, ex.BytePositionInLine);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new(null, ClientBodyProblem.TooLarge, null, null, null);
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
