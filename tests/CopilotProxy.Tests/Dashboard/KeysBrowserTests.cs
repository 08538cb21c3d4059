using System.Net;
using CopilotProxy.Tests.Harness;
using OpenQA.Selenium;
using static CopilotProxy.Tests.Keys.KeyClient;

namespace CopilotProxy.Tests.Dashboard;

/// <summary>The dashboard's Keys section in a real browser: create a key with the master key, see its usage, revoke it.</summary>
public sealed class KeysBrowserTests
{
    private const string Chat = "qwen/qwen3-8b";

    [Fact]
    public async Task KeysSection_CreatesAKey_ShowsItsUsage_AndRevokesIt()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Chat, loadedContextLength: 16384)], configure: s => s with { ApiKey = Master });
        using var browser = Browser.Start();
        browser.Open(new Uri(proxy.GatewayUrl, "ui"));
        browser.WaitFor("#key-dialog[open]", because: "(the key prompt)");
        browser.Driver.FindElement(By.Id("key-input")).SendKeys(Master);
        browser.Driver.FindElement(By.Id("key-submit")).Click();

        browser.WaitFor("#keys-manage", e => e.Displayed, "(the create form, shown to the master key)");
        browser.Driver.FindElement(By.Id("key-new-alias")).SendKeys("alice");
        browser.Driver.FindElement(By.Id("key-new-models")).SendKeys(Chat);
        browser.Driver.FindElement(By.Id("key-new-rpm")).SendKeys("10");
        browser.Driver.FindElement(By.Id("key-new-submit")).Click();
        var created = browser.WaitFor("#key-created-value", e => e.Displayed && e.Text.StartsWith("sk-", StringComparison.Ordinal), "(the new key, shown once)");
        var key = created.Text;

        var row = browser.WaitFor("#keys tbody tr", r => r.Text.Contains("alice", StringComparison.Ordinal), "(the key's row)");
        Assert.Contains(Chat, row.Text, StringComparison.Ordinal);
        Assert.Contains("10 rpm", row.Text, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Gateway, key)).Response.StatusCode);
        browser.WaitFor("#keys tbody tr", r => r.Text.Contains("alice", StringComparison.Ordinal) && r.Text.Contains("1 req", StringComparison.Ordinal),
            "(today's usage: one request)");

        browser.Driver.FindElement(By.CssSelector("#keys tbody tr button")).Click();
        browser.Driver.SwitchTo().Alert().Accept();
        browser.WaitFor("#keys-empty", e => e.Displayed, "(the revoked key gone from the list)");
        Assert.Equal(HttpStatusCode.Unauthorized, (await ChatAsync(proxy.Gateway, key)).Response.StatusCode);
    }
}
