using System.Net;
using System.Text;
using System.Text.Json;

namespace CopilotProxy.Upstream;

/// <summary>Normalises upstream error bodies and maps upstream failures to the status a client should see.</summary>
public static class UpstreamErrors
{
    private const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>Reads a non-success response into an exception; LM Studio sends <c>error</c> as a string on some paths and an object on others.</summary>
    /// <param name="upstream">Who answered, named as discovery found it (<see cref="UpstreamClient.NameOf"/>).</param>
    public static async Task<UpstreamException> FromStatusAsync(HttpResponseMessage response, Uri url, UpstreamClient? upstream, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        string? message = null;
        string? code = null;
        try
        {
            var body = await ReadBoundedAsync(response.Content, cancellationToken);
            (message, code) = ParseErrorBody(body);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            message = null;
        }

        message ??= response.ReasonPhrase ?? "no error message";
        var who = UpstreamClient.SentenceNameOf(upstream);
        var advice = status is 401 or 403
            ? who == "LM Studio"
                ? " LM Studio requires an API token: set LMSTUDIO_API_KEY to the token from LM Studio's server settings."
                : $" {who} requires an API key: set LMSTUDIO_API_KEY (or the config.yaml entry's api_key) to the key it was started with."
            : string.Empty;
        return new UpstreamException(UpstreamFailure.Status, $"{who} at {url} answered {status}: {message}{advice}", url, status)
        {
            UpstreamMessage = message,
            UpstreamCode = code,
        };
    }

    /// <summary>Extracts message and code from <c>{"error":"…"}</c>, <c>{"error":{"message":…}}</c>, <c>{"message":…}</c> or plain text.</summary>
    public static (string? Message, string? Code) ParseErrorBody(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return (null, null);
        }

        try
        {
            using var document = StrictJson.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var error))
                {
                    if (error.ValueKind == JsonValueKind.String)
                    {
                        return (error.GetString(), null);
                    }

                    if (error.ValueKind == JsonValueKind.Object)
                    {
                        var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : error.GetRawText();
                        var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()
                            : error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                        return (message, code);
                    }
                }

                if (root.TryGetProperty("message", out var plain) && plain.ValueKind == JsonValueKind.String)
                {
                    return (plain.GetString(), null);
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: fall through to the text.
        }

        var text = Encoding.UTF8.GetString(body).Trim();
        return (text.Length > 500 ? text[..500] + "…" : text, null);
    }

    /// <summary>
    /// The status a client sees for an upstream failure. Copilot treats 401/403 as "reset the GitHub token", 503 as a
    /// rate limit and 402/422/424/466/499 as special cases (docs/protocol.md §1.5), so none of those are passed through.
    /// </summary>
    public static int ClientStatus(UpstreamException failure) => failure.Failure switch
    {
        UpstreamFailure.Connect or UpstreamFailure.InvalidResponse or UpstreamFailure.MidStream => (int)HttpStatusCode.BadGateway,
        UpstreamFailure.Timeout => (int)HttpStatusCode.GatewayTimeout,
        UpstreamFailure.ClientCanceled => 499,
        // LiteLLM answers "no deployments available" with 429 too: it tells clients to come back later, not that they erred.
        UpstreamFailure.CoolingDown => (int)HttpStatusCode.TooManyRequests,
        // Not 503: Copilot reads 503 as a rate limit; 502 makes it retry, which reaches the restarted proxy.
        UpstreamFailure.ShuttingDown => (int)HttpStatusCode.BadGateway,
        _ => failure.UpstreamStatus switch
        {
            400 or 404 or 409 or 413 or 429 => failure.UpstreamStatus.Value,
            // "Not supported" (llama.cpp's server without --embeddings, an upstream without an API): the upstream answered
            // correctly, so the client hears what it said, not that the gateway broke.
            501 => (int)HttpStatusCode.NotImplemented,
            401 or 403 => (int)HttpStatusCode.BadGateway,
            402 or 422 or 424 or 466 or 499 => (int)HttpStatusCode.BadRequest,
            >= 400 and < 500 => failure.UpstreamStatus.Value,
            _ => (int)HttpStatusCode.BadGateway,
        },
    };

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxErrorBodyBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }

        return buffer.AsSpan(0, total).ToArray();
    }
}
