using CopilotProxy.Tests.Harness;
using OpenQA.Selenium;

namespace CopilotProxy.Tests.Dashboard;

/// <summary>The request inspector in a real browser (headless chromium): one click on a request shows what happened to it.</summary>
public sealed class RequestInspectorBrowserTests
{
    [Fact]
    public async Task ClickingARepairedToolCall_ShowsItsTimingChangesAndBodies_AndACurlWithoutTheKey()
    {
        await using var proxy = await InspectorScenario.StartProxyAsync();
        await InspectorScenario.RunAsync(proxy);
        var id = await InspectorScenario.LastRequestIdAsync(proxy);

        using var browser = Browser.Start(width: 1400, height: 1100);
        browser.Open(new Uri(proxy.GatewayUrl, "ui"));
        browser.WaitFor("#key-dialog[open]", because: "(the key prompt: the inspector's API needs the key like the rest)");
        browser.Driver.FindElement(By.Id("key-input")).SendKeys(InspectorScenario.Key);
        browser.Driver.FindElement(By.Id("key-submit")).Click();

        browser.WaitFor($"#recent tbody tr[data-request='{id}']").Click();
        var dialog = browser.WaitFor($"#inspector[open][data-request='{id}']", because: "(the inspector for the clicked request)");
        Assert.Contains("POST /v1/chat/completions", browser.Text("#inspector-title"), StringComparison.Ordinal);

        var timing = browser.WaitFor("#inspector-timing");
        foreach (var mark in new[] { "received", "upstreamSentMs", "upstreamHeadersMs", "firstTokenMs", "lastTokenMs", "totalMs" })
        {
            Assert.NotEmpty(timing.FindElements(By.CssSelector($"[data-mark='{mark}']")));
        }

        Assert.Empty(timing.FindElements(By.CssSelector("[data-mark='modelLoadMs']")));
        var facts = dialog.FindElement(By.CssSelector(".facts")).Text;
        Assert.Contains(InspectorScenario.UserAgent, facts, StringComparison.Ordinal);
        Assert.Contains("agent", facts, StringComparison.Ordinal);
        Assert.Contains(InspectorScenario.ClientModel, facts, StringComparison.Ordinal);

        var changes = browser.Text("#inspector-changes");
        Assert.Contains("Model renamed", changes, StringComparison.Ordinal);
        Assert.Contains("Retried", changes, StringComparison.Ordinal);
        Assert.Contains("hermes", browser.WaitFor("#inspector-changes [data-change='ToolCallsRepaired']").Text, StringComparison.Ordinal);

        Assert.Empty(browser.Driver.FindElements(By.Id("inspector-failure")));
        Assert.Contains("Weather in Zürich?", browser.Text("#body-received"), StringComparison.Ordinal);
        Assert.Contains("bytes elided", browser.Text("#body-received"), StringComparison.Ordinal);
        Assert.Contains("tool_call", browser.Text("#body-upstream"), StringComparison.Ordinal);
        Assert.Contains("tool_calls", browser.Text("#body-client"), StringComparison.Ordinal);

        var output = Environment.GetEnvironmentVariable("DASHBOARD_SCREENSHOTS") is { Length: > 0 } dir ? dir : Path.Combine(Path.GetTempPath(), "copilot-proxy-dashboard");
        Directory.CreateDirectory(output);
        browser.Driver.GetScreenshot().SaveAsFile(Path.Combine(output, "inspector.png"));

        browser.WaitFor("#copy-curl", b => b.Enabled).Click();
        var curl = browser.WaitFor("#curl-command", e => e.Displayed).Text;
        Assert.Contains(new Uri(proxy.Upstream.BaseUrl, "v1/chat/completions").ToString(), curl, StringComparison.Ordinal);
        Assert.Contains($"\"model\":\"{InspectorScenario.UpstreamModel}\"", curl, StringComparison.Ordinal);
        Assert.DoesNotContain("Authorization", curl, StringComparison.Ordinal);
        Assert.DoesNotContain(InspectorScenario.Key, browser.Driver.PageSource, StringComparison.Ordinal);

        browser.Driver.FindElement(By.Id("inspector-close")).Click();
        browser.WaitUntil(() => browser.Driver.FindElements(By.CssSelector("#inspector[open]")).Count == 0, "the inspector to close");
    }
}
