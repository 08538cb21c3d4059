using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Telemetry;

public partial class MetricsEndpointTests
{
    private const string Key2 = "qwen/qwen3-8b";

    [Fact]
    public async Task CopilotInitiator_IsAMetricLabel_KnownValuesOnly()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        foreach (var initiator in (string?[])["agent", "user", "Agent", "curl-script-42", null])
        {
            using var request = ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key2, stream: false, tools: false));
            if (initiator is not null)
            {
                request.Headers.Add("X-Initiator", initiator);
            }

            using var response = await proxy.Ollama.SendAsync(request, TestContext.Current.CancellationToken);
            await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        }

        var after = Parse(await proxy.Gateway.GetStringAsync("metrics", TestContext.Current.CancellationToken));
        double Requests(string value) => Series(after, "copilot_proxy_requests_total", "route=\"/v1/chat/completions\"", $"initiator=\"{value}\"");

        Assert.Equal(2, Requests("agent"));
        Assert.Equal(1, Requests("user"));
        Assert.Equal(1, Requests("other"));
        Assert.Equal(1, Requests("none"));
        Assert.DoesNotContain(after, s => s.Labels.Contains("curl-script-42", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CopilotHeaders_AppearInTheRequestLogLine()
    {
        var directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var proxy = await ProxyFixture.StartAsync(configure: s => s with { LogDir = directory, LogLevel = LogLevel.Information }))
            {
                using var request = ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key2, stream: false, tools: false));
                request.Headers.Add("X-Initiator", "agent");
                request.Headers.Add("X-Interaction-Id", "7f9c2a4e-1b6d-4c3e-9a8f-0d2e5b7c1a93");
                using var response = await proxy.Ollama.SendAsync(request, TestContext.Current.CancellationToken);
                await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            }

            var lines = Directory.GetFiles(directory).SelectMany(File.ReadAllLines).ToList();
            var line = Assert.Single(lines, l => l.Contains("\"Route\":\"/v1/chat/completions\"", StringComparison.Ordinal));
            Assert.Contains("\"Initiator\":\"agent\"", line, StringComparison.Ordinal);
            Assert.Contains("\"InteractionId\":\"7f9c2a4e-1b6d-4c3e-9a8f-0d2e5b7c1a93\"", line, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}
