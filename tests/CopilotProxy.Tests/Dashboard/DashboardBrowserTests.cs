using System.Net;
using System.Text;
using CopilotProxy.Tests.Harness;
using OpenQA.Selenium;

namespace CopilotProxy.Tests.Dashboard;

/// <summary>The dashboard in a real browser (headless chromium), in front of the fake LM Studio over loopback.</summary>
public sealed class DashboardBrowserTests
{
    private const string Chat = "qwen/qwen3-8b";
    private const string Embed = "text-embedding-nomic-embed-text-v1.5";
    private const string Idle = "google/gemma-3-12b";

    private static Uri Page(ProxyFixture proxy) => new(proxy.GatewayUrl, "ui");

    [Fact]
    public async Task Page_ListsTheUpstreamsModels_WithContextAndCapabilities()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: 16384, reasoning: true), FakeModel.Embedding(Embed), FakeModel.Llm(Idle, loadedContextLength: null, vision: true)]);
        using var browser = Browser.Start();
        // The gateway's root sends a person to the dashboard.
        browser.Open(proxy.GatewayUrl);

        var chat = browser.WaitFor($"#models tr[data-model='{Chat}']");
        Assert.EndsWith("/ui", browser.Driver.Url, StringComparison.Ordinal);
        Assert.Contains("16K / 32K", chat.Text, StringComparison.Ordinal);
        Assert.Contains("tools", chat.Text, StringComparison.Ordinal);
        Assert.Contains("thinking", chat.Text, StringComparison.Ordinal);
        Assert.Contains("loaded", chat.Text, StringComparison.Ordinal);
        Assert.Contains("embedding", browser.WaitFor($"#models tr[data-model='{Embed}']").Text, StringComparison.Ordinal);
        var idle = browser.WaitFor($"#models tr[data-model='{Idle}']");
        Assert.Contains("not loaded", idle.Text, StringComparison.Ordinal);
        Assert.Contains("vision", idle.Text, StringComparison.Ordinal);

        var upstream = browser.WaitFor("#upstreams tbody tr");
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, upstream.Text, StringComparison.Ordinal);
        Assert.Contains("up", upstream.Text, StringComparison.Ordinal);
        Assert.Matches(@"\d+ ms", upstream.Text);
    }

    [Fact]
    public async Task Page_ShowsARunningRequest_WhileASlowStreamRuns_ThenItsResult()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: 16384)]);
        using var browser = Browser.Start();
        browser.Open(Page(proxy));
        browser.WaitFor("#live[data-state='live']", because: "(the event stream connected)");

        // A stream whose first token comes at once and the rest slowly: it is running for as long as the test looks.
        var tokens = Enumerable.Range(0, 40).Select(i => $"word{i} ").ToArray();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Chat, tokens), delayBetween: TimeSpan.FromSeconds(1)));
        using var cancel = new CancellationTokenSource();
        using var request = ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Chat + ":latest", tools: false));
        request.Headers.UserAgent.ParseAdd("GitHubCopilotChat/0.31.0");
        using var response = await proxy.Ollama.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var running = browser.WaitFor("#inflight tbody tr", r => r.Text.Contains(Chat, StringComparison.Ordinal), "(the running request with its model)");
        Assert.Contains("POST /v1/chat/completions", running.Text, StringComparison.Ordinal);
        Assert.Contains("GitHubCopilotChat/0.31.0", running.Text, StringComparison.Ordinal);
        Assert.Contains("Ollama", running.Text, StringComparison.Ordinal);
        Assert.Equal("1", browser.Text("#total-inflight"));

        // The client gives up: the request leaves the running list and shows among the finished ones with its failure class.
        await cancel.CancelAsync();
        response.Dispose();
        var done = browser.WaitFor("#recent tbody tr", r => r.Text.Contains("client_cancelled", StringComparison.Ordinal), "(the finished request)");
        Assert.Contains(Chat, done.Text, StringComparison.Ordinal);
        browser.WaitFor("#inflight-empty", e => e.Displayed);
        browser.WaitUntil(() => browser.Text("#total-errors") == "1", "the error total to count the cancelled request");
    }

    [Fact]
    public async Task LoadAndUnloadButtons_ReachLmStudio_AndThePageFollowsTheJob()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: null)]);
        using var browser = Browser.Start();
        browser.Open(Page(proxy));
        var row = $"#models tr[data-model='{Chat}']";
        browser.WaitFor(row, r => r.Text.Contains("not loaded", StringComparison.Ordinal));

        browser.WaitFor(row + " button[data-action='load']", b => b.Enabled).Click();
        browser.WaitUntil(() => proxy.Upstream.Requests.Any(r => r.Path == "/api/v1/models/load"), "LM Studio to receive the load");
        var load = proxy.Upstream.Requests.Last(r => r.Path == "/api/v1/models/load");
        Assert.Contains(Chat, load.Body, StringComparison.Ordinal);
        browser.WaitFor(row, r => r.Text.Contains("load: loaded", StringComparison.Ordinal) && !r.Text.Contains("not loaded", StringComparison.Ordinal),
            "(the model as loaded, with the job's outcome)");

        browser.WaitFor(row + " button[data-action='unload']", b => b.Enabled).Click();
        browser.WaitUntil(() => proxy.Upstream.Requests.Any(r => r.Path == "/api/v1/models/unload"), "LM Studio to receive the unload");
        browser.WaitFor(row, r => r.Text.Contains("not loaded", StringComparison.Ordinal) && r.Text.Contains("unload: unloaded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ADownloadStartedByOllamaPull_ShowsItsProgress_ThenTheModel()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: 16384)]);
        proxy.Upstream.Downloadable.Add(FakeModel.Llm(Idle, loadedContextLength: null));
        // Twenty status polls, half a second apart: the download runs long enough to be watched.
        proxy.Upstream.DownloadSteps = 20;
        using var browser = Browser.Start();
        browser.Open(Page(proxy));
        browser.WaitFor("#live[data-state='live']", because: "(the event stream connected)");

        var pull = proxy.Ollama.PostAsync("api/pull", new StringContent($$"""{"model":"{{Idle}}"}""", Encoding.UTF8, "application/json"));
        var running = browser.WaitFor($"#downloads [data-download='{Idle}'][data-job='running']", e => e.Text.Contains('%', StringComparison.Ordinal),
            "(the download with its percentage)");
        Assert.Contains(Idle, running.Text, StringComparison.Ordinal);

        using var pulled = await pull;
        Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
        Assert.Contains("success", await pulled.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        browser.WaitFor($"#downloads [data-download='{Idle}'][data-job='done']", because: "(the finished download)");
        browser.WaitFor($"#models tr[data-model='{Idle}']", because: "(the downloaded model among the models)");
    }

    [Fact]
    public async Task WithAGatewayKey_ThePageAsksForIt_RefusesAWrongOne_AndNeverShowsIt()
    {
        const string key = "sk-dashboard-test-key-4242";
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: 16384)], configure: s => s with { ApiKey = key });
        using var browser = Browser.Start();
        browser.Open(Page(proxy));

        browser.WaitFor("#key-dialog[open]", because: "(the key prompt)");
        Assert.Empty(browser.Driver.FindElements(By.CssSelector("#models tr[data-model]")));

        browser.Driver.FindElement(By.Id("key-input")).SendKeys("not-the-key");
        browser.Driver.FindElement(By.Id("key-submit")).Click();
        browser.WaitFor("#key-error", e => e.Displayed && e.Text.Contains("not accepted", StringComparison.Ordinal));
        Assert.Empty(browser.Driver.FindElements(By.CssSelector("#models tr[data-model]")));

        browser.Driver.FindElement(By.Id("key-input")).SendKeys(key);
        browser.Driver.FindElement(By.Id("key-submit")).Click();
        browser.WaitFor($"#models tr[data-model='{Chat}']");
        browser.WaitFor("#live[data-state='live']", because: "(the event stream, which needs the key too)");
        Assert.DoesNotContain(key, browser.Driver.PageSource, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Themes_FollowTheSystem_AndANarrowWindowNeedsNoSidewaysScrolling()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: 16384), FakeModel.Embedding(Embed), FakeModel.Llm(Idle, loadedContextLength: null, vision: true)]);
        await SomeTrafficAsync(proxy);
        var output = Environment.GetEnvironmentVariable("DASHBOARD_SCREENSHOTS") is { Length: > 0 } dir ? dir : Path.Combine(Path.GetTempPath(), "copilot-proxy-dashboard");
        Directory.CreateDirectory(output);

        var backgrounds = new Dictionary<bool, string>();
        foreach (var dark in new[] { false, true })
        {
            using var browser = Browser.Start(dark: dark);
            browser.Open(Page(proxy));
            browser.WaitFor($"#models tr[data-model='{Idle}']");
            browser.WaitFor("#recent tbody tr");
            browser.WaitFor("#upstreams tbody tr", r => r.Text.Contains("ms", StringComparison.Ordinal));
            backgrounds[dark] = (string)browser.Script("return getComputedStyle(document.body).backgroundColor")!;
            var shot = browser.Driver.GetScreenshot();
            var path = Path.Combine(output, dark ? "dashboard-dark.png" : "dashboard-light.png");
            shot.SaveAsFile(path);
            Assert.True(new FileInfo(path).Length > 10_000, "the screenshot is a real picture");
        }

        Assert.NotEqual(backgrounds[false], backgrounds[true]);

        using var narrow = Browser.Start(width: 420, height: 800);
        narrow.Open(Page(proxy));
        narrow.WaitFor($"#models tr[data-model='{Chat}']");
        var overflow = Convert.ToInt64(narrow.Script("return document.documentElement.scrollWidth - document.documentElement.clientWidth"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(overflow <= 0, $"the narrow page scrolls sideways by {overflow} px");
    }

    /// <summary>A few finished requests of different kinds, so the tables and totals have something to show.</summary>
    private static async Task SomeTrafficAsync(ProxyFixture proxy)
    {
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Chat, "Hello", " there", "!").Usage(24, 3)));
        using (var request = ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Chat + ":latest", tools: false)))
        {
            request.Headers.UserAgent.ParseAdd("GitHubCopilotChat/0.31.0");
            using var response = await proxy.Ollama.SendAsync(request);
            await response.Content.ReadAsStringAsync();
        }

        using (var tags = await proxy.Ollama.GetAsync("api/tags"))
        {
        }

        using var embed = await proxy.Ollama.PostAsync("api/embed", new StringContent($$"""{"model":"{{Embed}}","input":"hello"}""", Encoding.UTF8, "application/json"));
        using var missing = await proxy.Gateway.PostAsync("v1/chat/completions", new StringContent("""{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
    }
}
