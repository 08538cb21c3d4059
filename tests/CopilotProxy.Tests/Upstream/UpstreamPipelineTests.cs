using System.Net;
using System.Text;
using System.Text.Json;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Upstream;

/// <summary>
/// Failures are classified the same way on every path through the one upstream pipeline: the class that reaches the
/// log and the metrics, and the message the client reads, say what really happened.
/// </summary>
public sealed class UpstreamPipelineTests : IDisposable
{
    private const string Key = "qwen/qwen3-8b";
    private const string Nomic = "text-embedding-nomic-embed-text-v1.5";
    private readonly string _logs = Path.Combine(Path.GetTempPath(), "copilot-proxy-pipeline-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task ResponsesStream_UpstreamGoesSilent_IsLoggedAsTimeoutNotMidStream()
    {
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key));
        // One event, then silence far longer than the idle timeout.
        upstream.Responder = _ => FakeResponse.Sse(["{\"type\":\"response.created\"}", "{\"type\":\"response.completed\"}"], delayBetween: TimeSpan.FromSeconds(30));
        await using (var proxy = await ProxyFixture.StartAsync(upstream, s => s with { UpstreamIdleTimeout = TimeSpan.FromSeconds(1), LogDir = _logs, LogLevel = LogLevel.Information }))
        {
            using var request = ProxyFixture.CopilotPost("v1/responses", $$"""{"model":"{{Key}}","input":"hi","stream":true}""");
            using var response = await ProxyFixture.SendStreamingAsync(proxy.Gateway, request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            // The Responses API's own in-band error ends the stream: the SDKs surface response.failed instead of a cut connection.
            var body = await response.Content.ReadAsStringAsync();
            Assert.Contains("event: response.failed\n", body, StringComparison.Ordinal);
            Assert.Contains("sent nothing for 1 s", body, StringComparison.Ordinal);
        }

        var log = ReadLogs();
        Assert.Contains("failed (Timeout)", log, StringComparison.Ordinal);
        Assert.Contains("sent nothing for 1 s", log, StringComparison.Ordinal);
        Assert.DoesNotContain("MidStream", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embed_DrainRunsOutWhileReadingTheBody_SaysTheProxyIsShuttingDownNotATimeout()
    {
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Embedding(Nomic));
        // Headers and a first piece of the body, then nothing until long after the drain deadline.
        upstream.Enqueue(FakeResponse.Sse(["{", "}"], delayBetween: TimeSpan.FromSeconds(30)));
        var proxy = await ProxyFixture.StartAsync(upstream, s => s with { GracefulShutdownTimeout = TimeSpan.FromSeconds(1), UpstreamIdleTimeout = TimeSpan.FromSeconds(60) });
        try
        {
            var answer = proxy.Ollama.PostAsync("api/embed", new StringContent($$"""{"model":"{{Nomic}}","input":"hello"}""", Encoding.UTF8, "application/json"));
            await WaitForAsync(() => upstream.CountOf("/v1/embeddings") == 1);
            var stopping = proxy.App.StopAsync();
            using var response = await answer;
            var body = await response.Content.ReadAsStringAsync();
            await stopping;

            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            var error = JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
            Assert.Contains("GRACEFUL_SHUTDOWN_TIMEOUT", error, StringComparison.Ordinal);
            Assert.DoesNotContain("sent nothing", error, StringComparison.Ordinal);
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task Chat_UpstreamDataLineIsNotJson_EndsWithAnInBandErrorNamingTheUrl()
    {
        await using (var proxy = await ProxyFixture.StartAsync(configure: s => s with { LogDir = _logs, LogLevel = LogLevel.Information }))
        {
            // A gateway's HTML page in the middle of a stream that otherwise finishes normally.
            var events = LmStudioStreams.Text(Key, "Hel", "lo").ToList();
            var body = string.Concat(events.Select((e, i) => (i == 1 ? "data: <html>Bad Gateway</html>\n\n" : "") + $"data: {e}\n\n"));
            proxy.Upstream.Enqueue(FakeResponse.RawSse(body));

            using var response = await proxy.Ollama.PostAsync("api/chat",
                new StringContent($$"""{"model":"{{Key}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
            var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var last = JsonDocument.Parse(lines[^1]);
            var error = last.RootElement.GetProperty("error").GetString()!;
            Assert.Contains(proxy.Upstream.BaseUrl.Authority, error, StringComparison.Ordinal);
            Assert.Contains("not JSON", error, StringComparison.Ordinal);
            Assert.DoesNotContain(lines, l => l.Contains("\"done_reason\":\"stop\"", StringComparison.Ordinal));
        }

        Assert.Contains("failed (InvalidResponse)", ReadLogs(), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_logs))
        {
            Directory.Delete(_logs, recursive: true);
        }
    }

    private string ReadLogs() =>
        Directory.Exists(_logs) ? string.Concat(Directory.GetFiles(_logs).Select(File.ReadAllText)) : string.Empty;

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }
}
