using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CopilotProxy.Configuration;

namespace CopilotProxy.Tests.Harness;

/// <summary>Small helpers shared by the gateway tests: config.yaml text through the real loader, and keyed requests.</summary>
internal static class GatewayHarness
{
    public const string Key = "qwen/qwen3-8b";

    /// <summary>Parses YAML exactly as startup does; a test config that does not load is a broken test.</summary>
    public static GatewayConfig Config(string yaml)
    {
        var result = GatewayConfigLoader.Parse(yaml, "test-config.yaml", _ => null);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Config!;
    }

    public static HttpRequestMessage Post(string path, string json, string? bearer = null, string? xApiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        Authorize(request, bearer, xApiKey);
        return request;
    }

    public static HttpRequestMessage Get(string path, string? bearer = null, string? xApiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        Authorize(request, bearer, xApiKey);
        return request;
    }

    public static string Chat(string model, bool stream = false, string extra = "") =>
        $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}],"stream":{{(stream ? "true" : "false")}}{{extra}}}""";

    /// <summary>Sends and reads the whole answer; <c>Body</c> is the parsed JSON, or an undefined element when the body is not JSON.</summary>
    public static async Task<Answer> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var body = text.Length > 0 && text[0] is '{' or '[' ? JsonDocument.Parse(text).RootElement.Clone() : default;
            var headers = response.Headers.Concat(response.Content.Headers).ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
            return new Answer((int)response.StatusCode, text, body, headers);
        }
    }

    private static void Authorize(HttpRequestMessage request, string? bearer, string? xApiKey)
    {
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (xApiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", xApiKey);
        }
    }
}

/// <summary>A whole HTTP answer.</summary>
internal sealed record Answer(int Status, string Text, JsonElement Body, IReadOnlyDictionary<string, string> Headers)
{
    public string? ErrorCode => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("error", out var e) && e.TryGetProperty("code", out var c) ? c.GetString() : null;
}
