using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Telemetry;

/// <summary>
/// GET /metrics as a Prometheus server scrapes it. Each proxy's exporter counts its own meter only, so these run beside
/// every other test; <see cref="Metrics_CountOnlyThisProxysRequests"/> proves it.
/// </summary>
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
    public async Task Histogram_BucketsAreCumulative_AndInfEqualsCount()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            using var tags = await proxy.Ollama.GetAsync("api/tags");
            Assert.Equal(HttpStatusCode.OK, tags.StatusCode);
        }

        var text = await proxy.Gateway.GetStringAsync("metrics");
        var samples = Parse(text);
        const string Labels = "front_door=\"Ollama\",route=\"/api/tags\"";
        var buckets = samples.Where(s => s.Name == "copilot_proxy_request_duration_seconds_bucket" && s.Labels.StartsWith(Labels, StringComparison.Ordinal)).ToList();

        // One line per bucket boundary ProxyMetrics declares, then +Inf; counts never go down (histogram_quantile needs that).
        Assert.Equal(17, buckets.Count);
        Assert.EndsWith("le=\"0.005\"", buckets[0].Labels, StringComparison.Ordinal);
        Assert.EndsWith("le=\"+Inf\"", buckets[^1].Labels, StringComparison.Ordinal);
        for (var i = 1; i < buckets.Count; i++)
        {
            Assert.True(buckets[i].Value >= buckets[i - 1].Value, $"bucket {buckets[i].Labels} is below the one before it");
        }

        Assert.Equal(3, buckets[^1].Value);
        Assert.Equal(3, Series(samples, "copilot_proxy_request_duration_seconds_count", Labels));
        Assert.InRange(Series(samples, "copilot_proxy_request_duration_seconds_sum", Labels), double.Epsilon, 60);
        Assert.Contains("# HELP copilot_proxy_request_duration_seconds Total request time.", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE copilot_proxy_requests_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE copilot_proxy_active_streams gauge", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_CountOnlyThisProxysRequests()
    {
        await using var first = await ProxyFixture.StartAsync();
        await using var second = await ProxyFixture.StartAsync();
        for (var i = 0; i < 2; i++)
        {
            using var tags = await second.Ollama.GetAsync("api/tags");
            Assert.Equal(HttpStatusCode.OK, tags.StatusCode);
        }

        var mine = Parse(await first.Gateway.GetStringAsync("metrics"));
        var theirs = Parse(await second.Gateway.GetStringAsync("metrics"));
        Assert.Equal(0, Series(mine, "copilot_proxy_requests_total", "route=\"/api/tags\""));
        Assert.Equal(2, Series(theirs, "copilot_proxy_requests_total", "route=\"/api/tags\""));
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
