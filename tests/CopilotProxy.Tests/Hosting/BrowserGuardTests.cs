using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Hosting;

/// <summary>
/// What a web page may do with the proxy: Ollama's rules (its default origins, OLLAMA_ORIGINS, and the Host check while
/// it listens on loopback), on both front doors. Requests are sent as a browser sends them: an Origin header, and for a
/// JSON POST a preflight first.
/// </summary>
public sealed class BrowserGuardTests
{
    private const string Chat = "qwen/qwen3-8b";
    private const string LocalDevServer = "http://localhost:5173";

    [Fact]
    public async Task PageFromALocalDevServer_GetsItsPreflightAndItsAnswer_OnBothFrontDoors()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        foreach (var (client, path) in new[] { (proxy.Ollama, "api/chat"), (proxy.Gateway, "v1/chat/completions") })
        {
            using var preflight = Preflight(path, LocalDevServer, "content-type,x-stainless-os");
            using var allowed = await client.SendAsync(preflight);
            Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
            Assert.Equal(LocalDevServer, Header(allowed, "Access-Control-Allow-Origin"));
            Assert.Contains("POST", Header(allowed, "Access-Control-Allow-Methods"), StringComparison.Ordinal);
            Assert.Equal("content-type,x-stainless-os", Header(allowed, "Access-Control-Allow-Headers"));
            Assert.Equal("Origin", Header(allowed, "Vary"));

            using var post = Post(path, ollama: path.StartsWith("api/", StringComparison.Ordinal), LocalDevServer);
            using var answer = await client.SendAsync(post);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(LocalDevServer, Header(answer, "Access-Control-Allow-Origin"));
        }
    }

    [Fact]
    public async Task PageFromAnotherSite_Gets403InTheApisShape_AndNothingReachesTheModel()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        const string site = "https://evil.example";

        using var preflight = await proxy.Ollama.SendAsync(Preflight("api/chat", site, "content-type"));
        Assert.Equal(HttpStatusCode.Forbidden, preflight.StatusCode);
        Assert.Null(Header(preflight, "Access-Control-Allow-Origin"));

        // A form post needs no preflight, so the browser sends it straight away: the proxy must refuse it itself.
        using var simple = new HttpRequestMessage(HttpMethod.Post, "api/generate") { Content = new StringContent($$"""{"model":"{{Chat}}","prompt":"hi"}""", Encoding.UTF8, "text/plain") };
        simple.Headers.TryAddWithoutValidation("Origin", site);
        using var ollama = await proxy.Ollama.SendAsync(simple);
        Assert.Equal(HttpStatusCode.Forbidden, ollama.StatusCode);
        var error = (string)JsonNode.Parse(await ollama.Content.ReadAsStringAsync())!["error"]!;
        Assert.Contains("A web page from https://evil.example may not call this proxy", error, StringComparison.Ordinal);
        Assert.Contains("OLLAMA_ORIGINS", error, StringComparison.Ordinal);

        using var gateway = await proxy.Gateway.SendAsync(Post("v1/chat/completions", ollama: false, site));
        Assert.Equal(HttpStatusCode.Forbidden, gateway.StatusCode);
        var openAI = JsonNode.Parse(await gateway.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("origin_not_allowed", (string)openAI["code"]!);
        Assert.Equal("permission_error", (string)openAI["type"]!);

        Assert.Empty(proxy.UpstreamRequests("/v1/chat/completions"));
    }

    [Theory]
    [InlineData("chrome-extension://*", "chrome-extension://abcdefghijklmnop")]
    [InlineData("https://*.example.org", "https://chat.example.org")]
    [InlineData("*", "https://anything.example")]
    public async Task OllamaOrigins_AddsOrigins_WithWildcards(string setting, string origin)
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { OllamaOrigins = [setting] });

        using var request = new HttpRequestMessage(HttpMethod.Get, "api/tags");
        request.Headers.TryAddWithoutValidation("Origin", origin);
        using var answer = await proxy.Ollama.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(origin, Header(answer, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Wildcards_StayInsideTheirPattern()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { OllamaOrigins = ["https://*.example.org"] });

        foreach (var origin in new[] { "https://example.org.evil.example", "http://chat.example.org", "http://localhost.evil.example", "null" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "api/tags");
            request.Headers.TryAddWithoutValidation("Origin", origin);
            using var answer = await proxy.Ollama.SendAsync(request);
            Assert.True(answer.StatusCode == HttpStatusCode.Forbidden, $"{origin} was let in: {answer.StatusCode}");
        }
    }

    [Fact]
    public async Task Preflight_IsAnsweredBeforeTheKeyCheck_SinceBrowsersSendNoKeyWithIt()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = "sk-team" });

        using var preflight = Preflight("v1/chat/completions", LocalDevServer, "authorization,content-type");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Private-Network", "true");
        using var answer = await proxy.Gateway.SendAsync(preflight);

        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        Assert.Equal("authorization,content-type", Header(answer, "Access-Control-Allow-Headers"));
        Assert.Equal("true", Header(answer, "Access-Control-Allow-Private-Network"));

        // The request itself still needs the key.
        using var unkeyed = await proxy.Gateway.SendAsync(Post("v1/chat/completions", ollama: false, LocalDevServer));
        Assert.Equal(HttpStatusCode.Unauthorized, unkeyed.StatusCode);
    }

    [Fact]
    public async Task Dashboard_GrantsNoOtherOrigin_EvenALocalOne()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: null)]);

        using var read = new HttpRequestMessage(HttpMethod.Get, "ui/api/state");
        read.Headers.TryAddWithoutValidation("Origin", LocalDevServer);
        using var state = await proxy.Gateway.SendAsync(read);
        Assert.Null(Header(state, "Access-Control-Allow-Origin"));

        using var press = new HttpRequestMessage(HttpMethod.Post, "ui/api/models/load") { Content = new StringContent($$"""{"model":"{{Chat}}"}""", Encoding.UTF8, "application/json") };
        press.Headers.TryAddWithoutValidation("Origin", LocalDevServer);
        using var refused = await proxy.Gateway.SendAsync(press);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(0, proxy.Upstream.CountOf("/api/v1/models/load"));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("my-box.local")]
    [InlineData("host.docker.internal")]
    [InlineData("app.localhost")]
    public async Task OnLoopback_ANameOfThisMachine_IsAnswered(string host)
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var answer = await proxy.Ollama.SendAsync(WithHost(host, proxy.OllamaUrl.Port));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task OnLoopback_AnotherName_Is403_AsADnsRebindingPageWouldSendIt()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var ollama = await proxy.Ollama.SendAsync(WithHost("rebind.evil.example", proxy.OllamaUrl.Port));
        using var gateway = await proxy.Gateway.SendAsync(WithHost("rebind.evil.example", proxy.GatewayUrl.Port, "v1/models"));

        Assert.Equal(HttpStatusCode.Forbidden, ollama.StatusCode);
        var error = (string)JsonNode.Parse(await ollama.Content.ReadAsStringAsync())!["error"]!;
        Assert.Contains("not to 'rebind.evil.example'", error, StringComparison.Ordinal);
        Assert.Contains($"http://localhost:{proxy.OllamaUrl.Port}", error, StringComparison.Ordinal);
        Assert.Contains("HOST=0.0.0.0", error, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, gateway.StatusCode);
        Assert.Equal("host_not_allowed", (string)JsonNode.Parse(await gateway.Content.ReadAsStringAsync())!["error"]!["code"]!);
    }

    [Fact]
    public async Task OnEveryInterface_AnyName_IsAnswered_AsOllamaDoes()
    {
        // HOST=0.0.0.0 serves other machines, which call it by names this one cannot know. The test still only talks to 127.0.0.1.
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { Host = "0.0.0.0" });

        using var answer = await proxy.Ollama.SendAsync(WithHost("gpu-box.example", proxy.OllamaUrl.Port));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    private static HttpRequestMessage Preflight(string path, string origin, string headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.TryAddWithoutValidation("Origin", origin);
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "POST");
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", headers);
        return request;
    }

    private static HttpRequestMessage Post(string path, bool ollama, string origin)
    {
        var json = ollama
            ? $$"""{"model":"{{Chat}}","messages":[{"role":"user","content":"hi"}],"stream":false}"""
            : $$"""{"model":"{{Chat}}","messages":[{"role":"user","content":"hi"}]}""";
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Origin", origin);
        return request;
    }

    private static HttpRequestMessage WithHost(string host, int port, string path = "api/tags")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = $"{host}:{port}";
        return request;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : null;
}
