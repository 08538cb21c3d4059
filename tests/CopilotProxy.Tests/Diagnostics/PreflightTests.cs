using System.Diagnostics;
using System.Net;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Diagnostics;

/// <summary>The start-up summary as it lands in the log (read back from LOG_DIR).</summary>
public sealed class PreflightTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-preflight-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task HealthyUpstream_SummaryListsModelsToolsContextAndVsCodeSetting()
    {
        await using var proxy = await ProxyFixture.StartAsync(
            [FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384), FakeModel.Llm("google/gemma-3-4b", loadedContextLength: null) with { TrainedForToolUse = false }],
            configure: s => s with { LogDir = _directory, LogLevel = LogLevel.Information, OllamaPort = 0 });

        // The VS Code line is the summary's last: waiting for an earlier one raced with it.
        var log = await WaitForLogAsync("Manage Models > Ollama");

        Assert.Contains("Pre-flight ✓ LM Studio reachable at", log, StringComparison.Ordinal);
        Assert.Contains("2 model(s), 1 loaded", log, StringComparison.Ordinal);
        Assert.Contains("qwen/qwen3-8b: loaded, tools, context 16384", log, StringComparison.Ordinal);
        Assert.Contains("google/gemma-3-4b: not loaded, no tools, context 32768", log, StringComparison.Ordinal);
        Assert.Contains("Pre-flight ✓ Tool-capable model(s) for agent mode: qwen/qwen3-8b", log, StringComparison.Ordinal);
        Assert.Contains("VS Code: Copilot Chat > Manage Models > Ollama, URL http://localhost:", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SmallContextAndNoTools_LoggedAsWarningsWithFix()
    {
        await using var proxy = await ProxyFixture.StartAsync(
            [FakeModel.Llm("google/gemma-3-4b", loadedContextLength: 4096) with { TrainedForToolUse = false }],
            configure: s => s with { LogDir = _directory, LogLevel = LogLevel.Information });

        var log = await WaitForLogAsync("Manage Models > Ollama");

        Assert.Contains("Pre-flight ✗ No tool-capable model", log, StringComparison.Ordinal);
        Assert.Contains("Copilot reserves 4096 tokens for the answer", log, StringComparison.Ordinal);
        Assert.Contains("\"level\":\"Warning\"", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamDown_KeepsServing_NotReady_FirstRunLinesWithoutStackTrace()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        var url = upstream.BaseUrl;
        await upstream.DisposeAsync();
        await using var proxy = await ProxyFixture.StartAsync(upstream, s => s with { LogDir = _directory, LogLevel = LogLevel.Information });

        var log = await WaitForLogAsync("Manage Models > Ollama");
        using var readiness = await proxy.Gateway.GetAsync("health/readiness");
        using var liveness = await proxy.Gateway.GetAsync("health/liveliness");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness.StatusCode);
        Assert.Equal(HttpStatusCode.OK, liveness.StatusCode);
        Assert.Contains($"Waiting for LM Studio at {url} (connection refused)", log, StringComparison.Ordinal);
        Assert.Contains("lms server start", log, StringComparison.Ordinal);
        Assert.Contains($"set LMSTUDIO_URL, now {url}", log, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Pre-flight ✓", log, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private async Task<string> WaitForLogAsync(string text)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var log = Directory.Exists(_directory)
                ? string.Concat(Directory.GetFiles(_directory).Select(f => { using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite); using var r = new StreamReader(s); return r.ReadToEnd(); }))
                : "";
            if (log.Contains(text, StringComparison.Ordinal))
            {
                return log;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"'{text}' never appeared in the log:\n{log}");
            await Task.Delay(50);
        }
    }
}
