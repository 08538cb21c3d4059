using System.Text.Json.Nodes;

namespace CopilotProxy.Tests.Harness;

/// <summary>What reached the fake upstream, recorded before it answered.</summary>
public sealed class RecordedRequest
{
    private readonly TaskCompletionSource<bool> _clientAborted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal RecordedRequest(int sequence, string method, string path, string query, IReadOnlyDictionary<string, string> headers,
        string body, bool wasChunked)
    {
        Sequence = sequence;
        Method = method;
        Path = path;
        Query = query;
        Headers = headers;
        Body = body;
        WasChunked = wasChunked;
        try
        {
            Json = body.Length == 0 ? null : JsonNode.Parse(body);
        }
        catch (System.Text.Json.JsonException)
        {
            Json = null;
        }
    }

    /// <summary>1-based arrival order across all paths.</summary>
    public int Sequence { get; }

    public string Method { get; }

    public string Path { get; }

    /// <summary>The raw query string including '?', or "".</summary>
    public string Query { get; }

    /// <summary>Request headers, names case-insensitive, repeated values joined with ", ".</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    public string Body { get; }

    /// <summary>The body parsed as JSON, or null when empty or not JSON.</summary>
    public JsonNode? Json { get; }

    /// <summary>True when the body arrived with Transfer-Encoding: chunked.</summary>
    public bool WasChunked { get; }

    /// <summary>The "model" field of a JSON body, if any.</summary>
    public string? Model => Json is JsonObject o && o["model"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>
    /// Completes with true when the caller's connection went away while the fake was still streaming or hanging
    /// (RequestAborted fired), with false when the fake finished its answer or cut the connection itself.
    /// </summary>
    public Task<bool> ClientAborted => _clientAborted.Task;

    internal void SetOutcome(bool clientAborted) => _clientAborted.TrySetResult(clientAborted);

    public override string ToString() => $"#{Sequence} {Method} {Path}{Query}";
}
