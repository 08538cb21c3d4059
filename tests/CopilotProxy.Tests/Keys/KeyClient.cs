using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace CopilotProxy.Tests.Keys;

/// <summary>Calls a proxy's key routes and model routes with a chosen key, as curl would.</summary>
internal static class KeyClient
{
    public const string Master = "sk-master-key-for-tests";

    public static async Task<(HttpResponseMessage Response, JsonNode? Json)> SendAsync(HttpClient client, HttpMethod method, string path, string? key, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response, text.Length > 0 && text[0] is '{' or '[' ? JsonNode.Parse(text) : null);
    }

    /// <summary>A new key from /key/generate with the master key; returns the clear key.</summary>
    public static async Task<string> GenerateAsync(HttpClient gateway, string body = "{}")
    {
        var (response, json) = await SendAsync(gateway, HttpMethod.Post, "/key/generate", Master, body);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return (string)json!["key"]!;
    }

    public static Task<(HttpResponseMessage Response, JsonNode? Json)> ChatAsync(HttpClient client, string? key, string model = "qwen/qwen3-8b", string path = "/v1/chat/completions") =>
        SendAsync(client, HttpMethod.Post, path, key, $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""");

    /// <summary>Polls /key/info until the usage writer's batch has landed (it commits about once a second).</summary>
    public static async Task<JsonNode> UsageAsync(HttpClient gateway, string key, long expectedRequests)
    {
        JsonNode? usage = null;
        for (var i = 0; i < 100; i++)
        {
            var (_, json) = await SendAsync(gateway, HttpMethod.Get, "/key/info?key=" + Uri.EscapeDataString(key), Master);
            usage = json?["info"]?["usage"];
            if (usage is not null && (long)usage["requests"]! >= expectedRequests)
            {
                return usage;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.Fail($"usage never reached {expectedRequests} requests: {usage?.ToJsonString()}");
        return null!;
    }
}
