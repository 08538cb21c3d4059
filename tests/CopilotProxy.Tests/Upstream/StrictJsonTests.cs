using System.Net;
using System.Text;
using System.Text.Json;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Upstream;

namespace CopilotProxy.Tests.Upstream;

/// <summary>
/// JSON whose strings hold half of a UTF-16 surrogate pair (<c>"\ud800"</c>): System.Text.Json parses it and throws later,
/// from whichever lookup first unescapes it. Found by fuzzing; seen from a client, it must be an unreadable event or a 400,
/// never a dead stream or a 500.
/// </summary>
public sealed class StrictJsonTests
{
    private const string Key = "qwen/qwen3-8b";

    /// <summary>Escaped in the JSON text, as a JSON encoder that escapes non-ASCII would write it.</summary>
    private const string LoneSurrogate = "\\ud800";

    [Fact]
    public void InvalidUtf8InAString_IsAJsonException()
    {
        byte[] json = [(byte)'[', (byte)'"', 0xC3, (byte)'"', (byte)']'];
        Assert.Throws<JsonException>(() => StrictJson.Validate(json));
    }

    [Theory]
    [InlineData("{\"a\":\"x\\ud800\"}")]
    [InlineData("{\"\\udc00\":1}")]
    [InlineData("[\"\\ud83d\\u0041\"]")]
    public void LoneSurrogateEscape_IsAJsonException(string json)
    {
        Assert.Throws<JsonException>(() => StrictJson.Validate(Encoding.UTF8.GetBytes(json)));
        Assert.ThrowsAny<JsonException>(() => StrictJson.Parse(json).Dispose());
    }

    [Theory]
    [InlineData("{\"a\":\"\\ud83d\\ude00\"}")]
    [InlineData("{\"a\":\"\\u00e9 \\n plain\"}")]
    [InlineData("{\"a\":\"no escapes at all\"}")]
    public void PairedSurrogatesAndOtherEscapes_AreAccepted(string json)
    {
        StrictJson.Validate(Encoding.UTF8.GetBytes(json));
        using var document = StrictJson.Parse(json);
        Assert.Equal(JsonValueKind.String, document.RootElement.GetProperty("a").ValueKind);
    }

    [Fact]
    public async Task OpenAIStream_UpstreamEventWithALoneSurrogate_EndsWithAnErrorNamingTheUrl()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var events = LmStudioStreams.Text(Key, "Hel", "lo").ToList();
        proxy.Upstream.Enqueue(FakeResponse.RawSse("data: " + events[0] + "\n\n"
            + "data: {\"choices\":[{\"index\":0,\"delta\":{\"" + LoneSurrogate + "\":\"x\"}}]}\n\n"
            + string.Concat(events.Skip(1).Select(e => "data: " + e + "\n\n"))));

        using var request = ProxyFixture.CopilotPost("v1/chat/completions", $$"""{"model":"{{Key}}","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Gateway, request);
        var body = await response.Content.ReadAsStringAsync();

        var data = body.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..]).ToList();
        Assert.Equal("[DONE]", data[^1]);
        var error = JsonDocument.Parse(data[^2]).RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, error, StringComparison.Ordinal);
        Assert.Contains("not JSON", error, StringComparison.Ordinal);
        Assert.Contains("Hel", body, StringComparison.Ordinal);

        using var next = await proxy.Gateway.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{Key}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task OllamaChat_UpstreamEventWithALoneSurrogate_EndsWithAnErrorLine()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var events = LmStudioStreams.Text(Key, "Hel", "lo").ToList();
        proxy.Upstream.Enqueue(FakeResponse.RawSse("data: " + events[0] + "\n\n"
            + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a" + LoneSurrogate + "\"}}]}\n\n"
            + string.Concat(events.Skip(1).Select(e => "data: " + e + "\n\n"))));

        using var response = await proxy.Ollama.PostAsync("api/chat", new StringContent(
            $$"""{"model":"{{Key}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();

        Assert.Equal("Hel", lines[0].GetProperty("message").GetProperty("content").GetString());
        var error = lines[^1].GetProperty("error").GetString()!;
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, error, StringComparison.Ordinal);
        Assert.Contains("not JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAIStream_EscapedEmojiPair_IsRelayedAsTheEmoji()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.RawSse(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"" + Key + "\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"ok \\ud83d\\ude00\"},\"finish_reason\":null}]}\n\n"
            + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"" + Key + "\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
            + "data: [DONE]\n\n"));

        using var request = ProxyFixture.CopilotPost("v1/chat/completions", $$"""{"model":"{{Key}}","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Gateway, request);
        var body = await response.Content.ReadAsStringAsync();

        var text = string.Concat(body.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l[6..]).RootElement.GetProperty("choices"))
            .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out _))
            .Select(c => c[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.Equal("ok 😀", text);
    }

    [Fact]
    public async Task GatewayRequestWithALoneSurrogate_Is400InOpenAIShape_AndNeverReachesTheUpstream()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var response = await proxy.Gateway.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{Key}}","{{LoneSurrogate}}":1,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Contains("not valid JSON", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(proxy.UpstreamRequests("/v1/chat/completions"));
    }

    [Fact]
    public async Task OllamaRequestWithInvalidUtf8InThink_Is400InOllamaShape()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var body = Encoding.UTF8.GetBytes($$"""{"model":"{{Key}}","think":"hi#","messages":[{"role":"user","content":"hi"}]}""");
        body[Array.IndexOf(body, (byte)'#')] = 0xC3; // the first byte of a two-byte sequence, cut off by the closing quote

        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        await AssertOllamaRefusesAsync(proxy, content, naming: "think");
    }

    [Fact]
    public async Task OllamaRequestWithAnInfiniteTemperature_Is400NamingTheField()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var content = new StringContent(
            $$"""{"model":"{{Key}}","options":{"temperature":1e999},"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
        await AssertOllamaRefusesAsync(proxy, content, naming: "temperature");
    }

    [Fact]
    public async Task OllamaRequestWithALoneSurrogateInFormat_Is400InOllamaShape()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var content = new StringContent(
            $$"""{"model":"{{Key}}","format":{"{{LoneSurrogate}}":1},"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
        await AssertOllamaRefusesAsync(proxy, content, naming: "format");
    }

    /// <summary>/api/chat answers 400 in Ollama's shape, its error names the field, and nothing went upstream.</summary>
    private static async Task AssertOllamaRefusesAsync(ProxyFixture proxy, HttpContent content, string naming)
    {
        using var response = await proxy.Ollama.PostAsync("api/chat", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
        Assert.Contains(naming, error, StringComparison.Ordinal);
        Assert.Empty(proxy.UpstreamRequests("/v1/chat/completions"));
    }
}
