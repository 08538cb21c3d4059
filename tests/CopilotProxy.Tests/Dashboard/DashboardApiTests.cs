using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Dashboard;

/// <summary>The dashboard's HTTP surface as a script or a browser meets it: the page, its caching, its API and the key gate.</summary>
public sealed class DashboardApiTests
{
    private const string Chat = "qwen/qwen3-8b";
    private const string Key = "sk-dashboard-api-key-7777";

    [Fact]
    public async Task GatewayRoot_RedirectsToTheDashboard_WhileTheOllamaRootStaysOllamas()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var noRedirects = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = proxy.GatewayUrl };
        using var root = await noRedirects.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/ui", root.Headers.Location?.OriginalString);
        Assert.Equal("Ollama is running", await proxy.Ollama.GetStringAsync("/"));
        using var onOllama = await proxy.Ollama.GetAsync("/ui");
        Assert.Equal(HttpStatusCode.NotFound, onOllama.StatusCode);
    }

    [Fact]
    public async Task Page_IsServedFromTheBinary_Gzipped_WithAnETagThatRevalidates()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ui");
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var page = await proxy.Gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Equal("gzip", Assert.Single(page.Content.Headers.ContentEncoding));
        Assert.Contains("no-cache", page.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        var etag = page.Headers.ETag!;
        await using (var gzip = new GZipStream(await page.Content.ReadAsStreamAsync(), CompressionMode.Decompress))
        using (var reader = new StreamReader(gzip))
        {
            var html = await reader.ReadToEndAsync();
            Assert.Contains("<script src=\"/ui/dashboard.js\"", html, StringComparison.Ordinal);
            Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        }

        using var again = new HttpRequestMessage(HttpMethod.Get, "/ui");
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await proxy.Gateway.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        var script = await proxy.Gateway.GetStringAsync("/ui/dashboard.js");
        Assert.Contains("/ui/api/events", script, StringComparison.Ordinal);
        using var missing = await proxy.Gateway.GetAsync("/ui/nothing.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task WithAKey_TheApiAndTheEventStreamNeedIt_AndTheStateNeverCarriesIt()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = Key });
        using var page = await proxy.Gateway.GetAsync("/ui");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);

        foreach (var path in new[] { "/ui/api/state", "/ui/api/events" })
        {
            using var refused = await proxy.Gateway.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var refusedLoad = await proxy.Gateway.PostAsync("/ui/api/models/load", Json($$"""{"model":"{{Chat}}"}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, refusedLoad.StatusCode);
        Assert.Equal(0, proxy.Upstream.CountOf("/api/v1/models/load"));

        using var state = new HttpRequestMessage(HttpMethod.Get, "/ui/api/state");
        state.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var answer = await proxy.Gateway.SendAsync(state);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var body = await answer.Content.ReadAsStringAsync();
        Assert.DoesNotContain(Key, body, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(body);
        Assert.True(document.RootElement.GetProperty("keyRequired").GetBoolean());
        Assert.Equal(Chat, document.RootElement.GetProperty("models")[0].GetProperty("id").GetString());

        using var events = new HttpRequestMessage(HttpMethod.Get, "/ui/api/events");
        events.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var stream = await proxy.Gateway.SendAsync(events, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal("event: traffic", await reader.ReadLineAsync());
    }

    [Fact]
    public async Task Actions_AreJsonPostsFromThePageOnly_SoNoOtherSiteCanPressTheButtons()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: null)]);

        using var form = await proxy.Gateway.PostAsync("/ui/api/models/load", new FormUrlEncodedContent([new("model", Chat)]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);

        using var crossSite = new HttpRequestMessage(HttpMethod.Post, "/ui/api/models/load") { Content = Json($$"""{"model":"{{Chat}}"}""") };
        crossSite.Headers.TryAddWithoutValidation("Origin", "https://evil.example");
        using var refused = await proxy.Gateway.SendAsync(crossSite);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        using var viaGet = await proxy.Gateway.GetAsync("/ui/api/models/load");
        Assert.NotEqual(HttpStatusCode.Accepted, viaGet.StatusCode);
        Assert.Equal(0, proxy.Upstream.CountOf("/api/v1/models/load"));

        using var unknown = await proxy.Gateway.PostAsync("/ui/api/models/load", Json("""{"model":"no-such-model"}"""));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("no-such-model", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var sameSite = new HttpRequestMessage(HttpMethod.Post, "/ui/api/models/load") { Content = Json($$"""{"model":"{{Chat}}"}""") };
        sameSite.Headers.TryAddWithoutValidation("Origin", proxy.GatewayUrl.GetLeftPart(UriPartial.Authority));
        using var accepted = await proxy.Gateway.SendAsync(sameSite);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Contains("\"action\":\"load\"", await accepted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ErrorBodies_KeepApostrophesReadable()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var answer = await proxy.Ollama.PostAsync("api/show", Json("""{"model":"no-such-model"}"""));
        var body = await answer.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
        Assert.Contains("model 'no-such-model' not found", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u0027", body, StringComparison.Ordinal);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
