using System.Diagnostics;
using System.Net;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Diagnostics;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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

    [Fact]
    public async Task RefreshBeforeThePortsOpen_SaysNothingUntilTheHostHasStarted()
    {
        // The first refresh can finish while Kestrel still binds. A start that then fails on a port must not leave
        // "the proxy is up" and a VS Code URL above its failure line, so nothing is said until the host says it started.
        var settings = new ProxySettings { LmStudioUrl = new Uri("http://127.0.0.1:9/") };
        var catalog = new ModelCatalog(new UpstreamRegistry(settings), new GatewayConfigHolder(GatewayConfig.Empty), settings, TimeProvider.System, NullLogger<ModelCatalog>.Instance);
        var logger = new Lines();
        var preflight = new Preflight(settings, catalog, logger);

        await Assert.ThrowsAnyAsync<Exception>(() => catalog.RefreshAsync(TestContext.Current.CancellationToken));
        Assert.Empty(logger.Said);

        preflight.HostStarted();
        Assert.Contains(logger.Said, line => line.StartsWith("Waiting for LM Studio at http://127.0.0.1:9/", StringComparison.Ordinal));
        Assert.Contains(logger.Said, line => line.StartsWith("VS Code: ", StringComparison.Ordinal));

        // After the start, each refresh is said as it comes; the first-run lines are not repeated.
        var before = logger.Said.Count;
        await Assert.ThrowsAnyAsync<Exception>(() => catalog.RefreshAsync(TestContext.Current.CancellationToken));
        Assert.Equal(before, logger.Said.Count);
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

    private sealed class Lines : ILogger<Preflight>
    {
        public List<string> Said { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Said.Add(formatter(state, exception));
    }
}
