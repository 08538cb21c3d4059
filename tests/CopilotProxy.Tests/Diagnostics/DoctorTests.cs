using System.Net;
using System.Net.Sockets;
using CopilotProxy.Configuration;
using CopilotProxy.Diagnostics;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Diagnostics;

public class DoctorTests
{
    [Fact]
    public async Task HealthyUpstream_AllChecksPass_Exit0()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384));
        upstream.Models.Add(FakeModel.Embedding("nomic-embed-text"));

        var (code, output) = await RunAsync(Settings(upstream.BaseUrl));

        Assert.Equal(0, code);
        Assert.DoesNotContain("✗", output, StringComparison.Ordinal);
        Assert.Contains("✓ LM Studio reachable at", output, StringComparison.Ordinal);
        Assert.Contains("qwen/qwen3-8b: loaded, tools, context 16384", output, StringComparison.Ordinal);
        Assert.Contains("✓ Tool-capable model(s) for agent mode: qwen/qwen3-8b", output, StringComparison.Ordinal);
        Assert.Contains("✓ qwen/qwen3-8b: loaded with a 16384-token context, MIN_CONTEXT_LENGTH 32768: the proxy reloads it with 32768 tokens before its first request; Copilot reserves 4096 tokens for the answer, leaving 28672", output, StringComparison.Ordinal);
        Assert.Contains("is free", output, StringComparison.Ordinal);
        Assert.Contains("Manage Models > Ollama, URL http://localhost:", output, StringComparison.Ordinal);
        Assert.EndsWith("No problems found." + Environment.NewLine, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamDown_FailsWithFix_Exit1()
    {
        var (code, output) = await RunAsync(Settings(new Uri($"http://127.0.0.1:{FreePort()}/")));

        Assert.Equal(1, code);
        Assert.Contains("✗ LM Studio not reachable at", output, StringComparison.Ordinal);
        Assert.Contains("connection refused", output, StringComparison.Ordinal);
        Assert.Contains("fix: Start LM Studio's local server", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoToolModel_FailsForAgentMode()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm("google/gemma-3-4b", loadedContextLength: 16384) with { TrainedForToolUse = false });

        var (code, output) = await RunAsync(Settings(upstream.BaseUrl));

        Assert.Equal(1, code);
        Assert.Contains("✗ No tool-capable model: Copilot shows models without \"tools\" in Ask and Edit mode only, never in Agent mode", output, StringComparison.Ordinal);
        Assert.Contains("fix: Download a model trained for tool use", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SmallContext_WithTheFloorOff_FailsWithLmStudiosFix()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 4096));

        var (code, output) = await RunAsync(Settings(upstream.BaseUrl) with { MinContextLength = 0 });

        Assert.Equal(1, code);
        Assert.Contains("✗ qwen/qwen3-8b: loaded with a 4096-token context: the proxy leaves loading to LM Studio (MIN_CONTEXT_LENGTH=0); Copilot reserves 4096 tokens for the answer, leaving 0", output, StringComparison.Ordinal);
        Assert.Contains("fix: Set MIN_CONTEXT_LENGTH=32768 and the proxy reloads it, or reload it yourself: `lms load qwen/qwen3-8b --context-length 32768`", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SmallContext_WithTheFloor_SaysTheProxyReloadsIt()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 4096) with { MaxContextLength = 131072 });
        upstream.Models.Add(FakeModel.Llm("qwen/qwen3-4b", loadedContextLength: null) with { MaxContextLength = 131072 });

        var (code, output) = await RunAsync(Settings(upstream.BaseUrl));

        Assert.Equal(0, code);
        Assert.Contains("✓ qwen/qwen3-8b: loaded with a 4096-token context, MIN_CONTEXT_LENGTH 32768: the proxy reloads it with 32768 tokens before its first request; Copilot reserves 4096 tokens for the answer, leaving 28672", output, StringComparison.Ordinal);
        Assert.Contains("✓ qwen/qwen3-4b: not loaded, MIN_CONTEXT_LENGTH 32768: the proxy loads it with 32768 tokens on its first request", output, StringComparison.Ordinal);
        Assert.DoesNotContain(upstream.CallLog(includeDiscovery: false), l => l.Contains("/load", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SmallContext_OnLlamaCpp_GivesTheServerFlags()
    {
        await using var upstream = await FakeLmStudio.StartAsync(FakeApiLevel.OpenAIOnly);
        upstream.Models.Add(FakeModel.Llm("qwen3-8b", loadedContextLength: 4096));

        var (code, output) = await RunAsync(Settings(upstream.BaseUrl));

        Assert.Equal(1, code);
        Assert.Contains("✗ qwen3-8b: loaded with a 4096-token context, MIN_CONTEXT_LENGTH 32768: the upstream sets its context at start-up; the proxy can't change it; Copilot reserves 4096 tokens for the answer, leaving 0", output, StringComparison.Ordinal);
        Assert.Contains("`-c 65536 -np 2` gives 32768 per request", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2048, 1024, 1024)]
    [InlineData(4096, 0, 4096)]
    [InlineData(32768, 28672, 4096)]
    public void CopilotBudget_OutputIs4096_OrHalfTheContextBelowThat(int context, int input, int output) =>
        Assert.Equal((input, output), UpstreamChecks.CopilotBudget(context));

    [Fact]
    public async Task PortHeldByAnotherProgram_Fails()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384));
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;

        var (code, output) = await RunAsync(Settings(upstream.BaseUrl) with { GatewayPort = port });

        Assert.Equal(1, code);
        Assert.Contains($"✗ Port {port} (LITELLM_PORT) is in use by another program", output, StringComparison.Ordinal);
        Assert.Contains($"LITELLM_PORT={port + 1}", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyRunning_PortsOurs_AndCopilotHandshakeChecked()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var settings = Settings(proxy.Upstream.BaseUrl) with { OllamaPort = proxy.OllamaUrl.Port, GatewayPort = proxy.GatewayUrl.Port };

        var (code, output) = await RunAsync(settings);

        Assert.Equal(0, code);
        Assert.Contains($"✓ Port {proxy.OllamaUrl.Port} (OLLAMA_PORT) is held by a running copilot-proxy", output, StringComparison.Ordinal);
        Assert.Contains("✓ /api/version answers 0.12.10 (Copilot needs ≥ 0.6.4)", output, StringComparison.Ordinal);
        Assert.Contains("✓ /api/tags lists 1 model(s)", output, StringComparison.Ordinal);
        Assert.Contains("✓ /api/show reports \"tools\" for qwen/qwen3-8b:latest", output, StringComparison.Ordinal);
        Assert.Contains("✓ The running proxy reports ready", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(32768, "✗ The Ollama VS Code extension uses this proxy and MIN_CONTEXT_LENGTH is 32768, below the 64K it wants")]
    [InlineData(65536, "✓ The Ollama VS Code extension uses this proxy and MIN_CONTEXT_LENGTH is 65536")]
    public async Task OllamaExtensionInUse_FloorBelow64K_IsFlaggedWithTheSettingThatClearsItsWarning(int floor, string line)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        // Only the Ollama extension asks this during its discovery; the running proxy's /metrics remembers that it did.
        using var recommendations = await proxy.Ollama.GetAsync("api/experimental/model-recommendations", TestContext.Current.CancellationToken);
        var settings = Settings(proxy.Upstream.BaseUrl) with { OllamaPort = proxy.OllamaUrl.Port, GatewayPort = proxy.GatewayUrl.Port, MinContextLength = floor };

        var (_, output) = await RunAsync(settings);

        Assert.Contains(line, output, StringComparison.Ordinal);
        if (floor < 65536)
        {
            Assert.Contains("fix: Set MIN_CONTEXT_LENGTH=65536", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OllamaExtensionNotSeen_FloorIsNotJudgedForIt()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var settings = Settings(proxy.Upstream.BaseUrl) with { OllamaPort = proxy.OllamaUrl.Port, GatewayPort = proxy.GatewayUrl.Port, MinContextLength = 32768 };

        var (code, output) = await RunAsync(settings);

        Assert.Equal(0, code);
        Assert.DoesNotContain("Ollama VS Code extension uses this proxy", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidSettings_OneCrossPerProblem_Exit2()
    {
        using var output = new StringWriter();
        var code = await Doctor.ReportInvalidSettingsAsync(["OLLAMA_PORT='x' is not valid: …", "LOG_LEVEL='loud' is not valid: …"], output);

        Assert.Equal(2, code);
        Assert.Equal(2, output.ToString().Split('\n').Count(l => l.StartsWith("✗ ", StringComparison.Ordinal)));
    }

    private static ProxySettings Settings(Uri upstream) =>
        new() { LmStudioUrl = upstream, OllamaPort = FreePort(), GatewayPort = FreePort(), Host = "127.0.0.1" };

    [Fact]
    public async Task Output_ComesAsTheChecksRun_NotAllAtTheEnd()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384));
        // Notes, for every line, how many requests LM Studio had seen when the line was written.
        using var output = new LineClock(() => upstream.Requests.Count);

        await new Doctor(Settings(upstream.BaseUrl), output, TimeProvider.System).RunAsync();

        var asking = Assert.Single(output.Lines, l => l.Line.StartsWith("… asking LM Studio at " + upstream.BaseUrl, StringComparison.Ordinal));
        Assert.Equal(0, asking.RequestsSeen);
        Assert.All(output.Lines.Where(l => l.Line.Contains("is free", StringComparison.Ordinal)), l => Assert.Equal(0, l.RequestsSeen));
        var reachable = Assert.Single(output.Lines, l => l.Line.StartsWith("✓ LM Studio reachable at", StringComparison.Ordinal));
        Assert.True(reachable.RequestsSeen > 0);
        Assert.True(output.Flushes >= output.Lines.Count(l => l.Line.StartsWith('✓') || l.Line.StartsWith('✗')), "every check is flushed as it is written");
    }

    private sealed class LineClock(Func<int> requestsSeen) : StringWriter
    {
        private readonly System.Text.StringBuilder _pending = new();

        public List<(string Line, int RequestsSeen)> Lines { get; } = [];

        public int Flushes { get; private set; }

        public override void Write(char value)
        {
            if (value == '\n')
            {
                Lines.Add((_pending.ToString().TrimEnd('\r'), requestsSeen()));
                _pending.Clear();
            }
            else
            {
                _pending.Append(value);
            }
        }

        public override void Write(string? value)
        {
            foreach (var c in value ?? string.Empty)
            {
                Write(c);
            }
        }

        public override void WriteLine(string? value)
        {
            Write(value);
            Write('\n');
        }

        public override void Flush() => Flushes++;

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(ProxySettings settings)
    {
        using var output = new StringWriter();
        var code = await new Doctor(settings, output, TimeProvider.System).RunAsync();
        return (code, output.ToString());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
