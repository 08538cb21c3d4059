using CopilotProxy.Tests.Dashboard;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Hosting;

/// <summary>
/// Hosting/BrowserGuard in a real browser (headless chromium): a page's fetch to the Ollama front door, as the npm
/// `ollama/browser` client sends it, from a local origin, from another site, and from a site whose name was pointed at
/// 127.0.0.1. Chromium's --host-resolver-rules stands in for DNS: every name below resolves to 127.0.0.1, so nothing
/// leaves the machine.
/// </summary>
public sealed class BrowserGuardBrowserTests
{
    private const string Resolve = "--host-resolver-rules=MAP *.test 127.0.0.1";

    [Fact]
    public async Task PageOnALocalOrigin_ChatsWithTheOllamaFrontDoor_ThroughItsPreflight()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var browser = Browser.Start(arguments: Resolve);
        // A page on another local origin than the Ollama port (the gateway's, whose JSON pages carry no content policy of
        // their own, unlike the dashboard): a stand-in for a web app on a dev server.
        browser.Open(new Uri(proxy.GatewayUrl, "health/liveliness"));

        var answer = (string?)browser.ScriptAsync(Chat(proxy.OllamaUrl));

        Assert.StartsWith("200 ", answer, StringComparison.Ordinal);
        Assert.Contains("\"role\":\"assistant\"", answer, StringComparison.Ordinal);
        Assert.Single(proxy.UpstreamRequests("/v1/chat/completions"));
    }

    [Fact]
    public async Task PageFromAnotherSite_IsRefused_UntilOllamaOriginsNamesIt()
    {
        // On every interface, as in a container or a team box, so the page's own name is served; only its origin counts.
        await using var refused = await ProxyFixture.StartAsync(configure: s => s with { Host = "0.0.0.0" });
        using var browser = Browser.Start(arguments: Resolve);
        browser.Open(new Uri($"http://chat.other.test:{refused.GatewayUrl.Port}/health/liveliness"));

        Assert.Equal("failed: TypeError", browser.ScriptAsync(Chat(refused.OllamaUrl)));
        Assert.Empty(refused.UpstreamRequests("/v1/chat/completions"));

        await using var allowed = await ProxyFixture.StartAsync(configure: s => s with { Host = "0.0.0.0", OllamaOrigins = ["http://*.other.test:*"] });
        browser.Open(new Uri($"http://chat.other.test:{allowed.GatewayUrl.Port}/health/liveliness"));

        Assert.StartsWith("200 ", (string?)browser.ScriptAsync(Chat(allowed.OllamaUrl)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PageWhoseNameWasPointedAtThisMachine_GetsNoAnswer_OnLoopback()
    {
        // DNS rebinding: the attacker's name now resolves to 127.0.0.1, so its page and the proxy share an origin and
        // CORS never applies. Only the Host header tells them apart.
        await using var proxy = await ProxyFixture.StartAsync();
        using var browser = Browser.Start(arguments: Resolve);

        browser.Open(new Uri($"http://rebind.attacker.test:{proxy.OllamaUrl.Port}/api/tags"));

        Assert.Contains("not to 'rebind.attacker.test'", browser.Text("body"), StringComparison.Ordinal);
        Assert.DoesNotContain("qwen/qwen3-8b", browser.Text("body"), StringComparison.Ordinal);
    }

    private static string Chat(Uri ollama) => $$"""
        fetch("{{new Uri(ollama, "api/chat")}}", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ model: "qwen/qwen3-8b", messages: [{ role: "user", content: "hi" }], stream: false }),
        })
            .then(async r => done(r.status + " " + await r.text()))
            .catch(e => done("failed: " + e.name));
        """;
}
