using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Telemetry;

/// <summary>
/// Removes secrets from what DEBUG_LOGGING writes and CAPTURE_BODIES keeps: credential headers, JSON values under key-like
/// names, bearer tokens and the configured keys in text. Images (data: URLs, long base64 strings) are cut to their size.
/// </summary>
public sealed partial class Redaction
{
    public const string Mask = "[redacted]";

    /// <summary>Longest body excerpt a debug log line carries; an agent prompt can be megabytes.</summary>
    public const int MaxBodyChars = 32 * 1024;

    private static readonly HashSet<string> SecretHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "Cookie", "Set-Cookie", "X-Goog-Api-Key",
    };

    private readonly string[] _knownSecrets;

    /// <param name="knownSecrets">Configured secrets (API_KEY, LMSTUDIO_API_KEY) masked wherever they appear verbatim.</param>
    public Redaction(IEnumerable<string?> knownSecrets) =>
        _knownSecrets = knownSecrets.Where(s => s is { Length: >= 4 }).Select(s => s!).ToArray();

    /// <summary>Header names and values, one "name: value" per header, secrets masked.</summary>
    public static string Headers(IHeaderDictionary headers)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in headers)
        {
            if (text.Length > 0)
            {
                text.Append("; ");
            }

            text.Append(name).Append(": ").Append(SecretHeaders.Contains(name) ? Mask : value.ToString());
        }

        return text.ToString();
    }

    /// <summary>A body for the log: JSON with secret-named values masked, other text with bearer tokens and known keys masked, then truncated.</summary>
    /// <param name="maxChars">Longest text returned; the request inspector keeps more than a log line.</param>
    public string Body(ReadOnlySpan<byte> body, long totalBytes, int maxChars = MaxBodyChars)
    {
        string text;
        try
        {
            using var document = StrictJson.Parse(body);
            var output = new ArrayBufferWriter<byte>(body.Length);
            // Relaxed escaping: a person reads this, and '+' or '<' written as \u002B would also hide a key from the text pass.
            using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                WriteRedacted(document.RootElement, writer);
            }

            text = Encoding.UTF8.GetString(output.WrittenSpan);
        }
        catch (JsonException)
        {
            // Streams (SSE, NDJSON) and truncated captures aren't one JSON document; mask by pattern instead.
            text = DataUrl().Replace(Encoding.UTF8.GetString(body), m => Elided(m.Value));
        }

        text = Text(text);
        if (text.Length > maxChars)
        {
            text = text[..maxChars] + $"… ({totalBytes} bytes in total)";
        }
        else if (totalBytes > body.Length)
        {
            text += $"… ({totalBytes} bytes in total)";
        }

        return text;
    }

    /// <summary>Masks bearer tokens, OpenAI-style keys, JSON string values under secret names, and the configured secrets in free text.</summary>
    public string Text(string text)
    {
        foreach (var secret in _knownSecrets)
        {
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        }

        text = BearerToken().Replace(text, "Bearer " + Mask);
        text = SecretJsonValue().Replace(text, m => m.Groups["name"].Value + "\"" + Mask + "\"");
        return ApiKeyLike().Replace(text, Mask);
    }

    /// <summary>True for property names that hold credentials; token counts (max_tokens, prompt_tokens) are not secrets.</summary>
    public static bool IsSecretName(string name)
    {
        var n = name.Replace("-", "_", StringComparison.Ordinal).ToLowerInvariant();
        return n is "key" or "authorization" or "password" or "secret" or "token" or "access_token" or "refresh_token" or "id_token" or "bearer"
            || n.EndsWith("api_key", StringComparison.Ordinal) || n.EndsWith("apikey", StringComparison.Ordinal)
            || n.EndsWith("_secret", StringComparison.Ordinal) || n.EndsWith("password", StringComparison.Ordinal);
    }

    /// <summary>Shortest string taken for an image when it is all base64 (Anthropic's <c>source.data</c>, Ollama's <c>images</c>).</summary>
    private const int MinBase64ImageChars = 512;

    private void WriteRedacted(JsonElement element, Utf8JsonWriter writer)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject())
                {
                    writer.WritePropertyName(MaskKnown(property.Name));
                    if (IsSecretName(property.Name) && property.Value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Object or JsonValueKind.Array))
                    {
                        writer.WriteStringValue(Mask);
                    }
                    else
                    {
                        WriteRedacted(property.Value, writer);
                    }
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteRedacted(item, writer);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                // Decoded first: a key written with JSON escapes (\u0073k-…) is still the key.
                var value = element.GetString()!;
                writer.WriteStringValue(IsImage(value) ? Elided(value) : MaskKnown(value));
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    private string MaskKnown(string text)
    {
        foreach (var secret in _knownSecrets)
        {
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>A data: URL, or a long run of nothing but base64: an image (or audio) a person can't read anyway.</summary>
    private static bool IsImage(string value) =>
        (value.StartsWith("data:", StringComparison.Ordinal) && value.Contains(";base64,", StringComparison.Ordinal))
        || (value.Length >= MinBase64ImageChars && value.AsSpan().IndexOfAnyExcept(Base64Chars) < 0);

    private static readonly SearchValues<char> Base64Chars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n");

    /// <summary>"[image/png, 48213 bytes elided]": what it was and how big, decoded size from the base64 length.</summary>
    private static string Elided(string value)
    {
        var comma = value.StartsWith("data:", StringComparison.Ordinal) ? value.IndexOf(',', StringComparison.Ordinal) : -1;
        var kind = comma > 5 ? value[5..comma].Replace(";base64", "", StringComparison.Ordinal) : "base64";
        var bytes = (value.Length - comma - 1) / 4 * 3;
        return $"[{kind}, {bytes} bytes elided]";
    }

    [GeneratedRegex(@"data:[a-zA-Z]+/[a-zA-Z0-9.+-]+;base64,[A-Za-z0-9+/=]{16,}")]
    private static partial Regex DataUrl();

    [GeneratedRegex(@"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{4,}")]
    private static partial Regex BearerToken();

    [GeneratedRegex(@"\b(sk|lm|lms)-[A-Za-z0-9_-]{12,}")]
    private static partial Regex ApiKeyLike();

    [GeneratedRegex(@"(?i)(?<name>""(?:[a-z_-]*api[_-]?key|key|authorization|password|secret|token|access_token|refresh_token|client_secret)""\s*:\s*)""(?:[^""\\]|\\.)*""")]
    private static partial Regex SecretJsonValue();
}
