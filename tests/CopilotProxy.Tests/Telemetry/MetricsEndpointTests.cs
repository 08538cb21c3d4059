using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Telemetry;

/// <summary>
/// OpenTelemetry listens to every meter named CopilotProxy in the process, so proxies of other tests running at the same
/// time would move these counters too; this collection runs alone.
/// </summary>
[CollectionDefinition(nameof(MetricsEndpointTests), DisableParallelization = true)]
public sealed class MetricsRunAlone;

[Collection(nameof(MetricsEndpointTests))]
public partial class MetricsEndpointTests
{
    private const string Key = "qwen/qwen3-8b";

    [Fact]
    public async Task Metrics_IsPrometheusText_AndCountersMove()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        var before = Parse(await proxy.Gateway.GetStringAsync("metrics"));

        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "a", "b").Usage(12, 2)));
        using (var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key))))
        {
            await response.Content.ReadAsStringAsync();
        }

        using var scrape = await proxy.Gateway.GetAsync("metrics");
        var text = await scrape.Content.ReadAsStringAsync();
        var after = Parse(text);

        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var requests = Series(after, "copilot_proxy_requests_total", "route=\"/v1/chat/completions\"", "status=\"200\"", $"model=\"{Key}\"", "front_door=\"Ollama\"");
        Assert.Equal(1, requests - Series(before, "copilot_proxy_requests_total", "route=\"/v1/chat/completions\"", "status=\"200\""));
        Assert.Equal(12, Series(after, "copilot_proxy_tokens_total", "direction=\"input\""));
        Assert.Equal(2, Series(after, "copilot_proxy_tokens_total", "direction=\"output\""));
        Assert.Equal(1, Series(after, "copilot_proxy_time_to_first_token_seconds_count"));
        Assert.Equal(1, Series(after, "copilot_proxy_proxy_duration_seconds_count"));
        Assert.Equal(1, Series(after, "copilot_proxy_upstream_headers_duration_seconds_count"));
        Assert.Equal(0, Series(after, "copilot_proxy_active_streams"));
        Assert.True(Series(after, "copilot_proxy_catalog_refreshes_total", "result=\"ok\"") >= 1);
        Assert.Contains("# TYPE copilot_proxy_request_duration_seconds histogram", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamDown_FailureCountedByClass()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        await proxy.Upstream.DisposeAsync();

        using (await proxy.Ollama.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key))))
        {
        }

        var after = Parse(await proxy.Gateway.GetStringAsync("metrics"));
        Assert.True(Series(after, "copilot_proxy_upstream_failures_total", "class=\"connect\"") >= 1);
    }

    [Fact]
    public async Task DiscoveryAnswering502_CountsItsFailureClassToo()
    {
        var upstream = await FakeLmStudio.StartAsync();
        await upstream.DisposeAsync();
        await using var proxy = await ProxyFixture.StartAsync(upstream);

        using (var tags = await proxy.Ollama.GetAsync("api/tags"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, tags.StatusCode);
        }

        var after = Parse(await proxy.Gateway.GetStringAsync("metrics"));
        Assert.True(Series(after, "copilot_proxy_requests_total", "route=\"/api/tags\"", "status=\"502\"") >= 1);
        Assert.True(Series(after, "copilot_proxy_upstream_failures_total", "class=\"connect\"") >= 1);
    }

    [Fact]
    public async Task Metrics_NotOnTheOllamaFrontDoor()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var response = await proxy.Ollama.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>Parses the exposition format strictly: every line is a comment, blank, or <c>name{labels} value [timestamp]</c>.</summary>
    private static List<(string Name, string Labels, double Value)> Parse(string text)
    {
        var samples = new List<(string, string, double)>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                Assert.True(line.Length == 0 || line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal) || line.StartsWith("# EOF", StringComparison.Ordinal), line);
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            samples.Add((match.Groups["name"].Value, match.Groups["labels"].Value,
                double.Parse(match.Groups["value"].Value.Replace("+Inf", "Infinity", StringComparison.Ordinal), CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    private static double Series(List<(string Name, string Labels, double Value)> samples, string name, params string[] labels) =>
        samples.Where(s => s.Name == name && labels.All(l => s.Labels.Contains(l, StringComparison.Ordinal))).Sum(s => s.Value);

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (?<value>[-+]?(?:[0-9.eE+-]+|Inf|NaN))(?: -?[0-9]+)?$""")]
    private static partial Regex SampleLine();
}
