using System.Text.Json.Nodes;
using CopilotProxy.OpenAI;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Time.Testing;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.Routing;

/// <summary>Aliases, defaults, balancing, retries, fallbacks and cooldown, observed at two real fake upstreams.</summary>
public sealed class GatewayRoutingTests
{
    private const string ChatPath = "/v1/chat/completions";

    private static async Task<FakeLmStudio> StartFakeAsync(FakeApiLevel level = FakeApiLevel.V1)
    {
        var fake = await FakeLmStudio.StartAsync(level);
        fake.Models.Add(FakeModel.Llm(Key, loadedContextLength: 16384));
        return fake;
    }

    private static string Entry(string name, FakeLmStudio upstream, string extra = "") =>
        $"""
          - model_name: {name}
            litellm_params:
              model: openai/{Key}
              api_base: {upstream.BaseUrl}v1
        {extra}
        """;

    [Fact]
    public async Task Alias_IsSentAsTheUpstreamId_WithDefaultsTheClientDidNotSet()
    {
        var upstream = await StartFakeAsync();
        var config = Config($"""
            model_list:
            {Entry("coder", upstream, """
                  temperature: 0.2
                  max_tokens: 100
                  stop: ["<END>"]
                  extra_headers:
                    X-Trace: from-config
            """)}
            """);
        await using var proxy = await ProxyFixture.StartAsync(upstream, config: config);

        var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("coder", extra: ""","temperature":0.9,"stop":null""")));

        Assert.Equal(200, answer.Status);
        Assert.Equal("coder", answer.Body.GetProperty("model").GetString());
        var sent = proxy.Upstream.Requests.Single(r => r.Path == ChatPath);
        Assert.Equal(Key, sent.Model);
        Assert.Equal(0.9, sent.Json!["temperature"]!.GetValue<double>());
        Assert.Equal(100, sent.Json!["max_tokens"]!.GetValue<int>());
        Assert.Equal("<END>", sent.Json!["stop"]!.AsArray().Single()!.GetValue<string>());
        Assert.Equal("from-config", sent.Headers["X-Trace"]);
    }

    [Fact]
    public async Task ClientMaxCompletionTokens_SuppressesTheMaxTokensDefault()
    {
        var upstream = await StartFakeAsync();
        var config = Config($"""
            model_list:
            {Entry("coder", upstream, "      max_tokens: 100")}
            """);
        await using var proxy = await ProxyFixture.StartAsync(upstream, config: config);

        await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("coder", extra: ""","max_completion_tokens":7""")));

        var sent = proxy.Upstream.Requests.Single(r => r.Path == ChatPath).Json!.AsObject();
        Assert.False(sent.ContainsKey("max_tokens"));
        Assert.Equal(7, sent["max_completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Group_IsBalancedAcrossItsDeployments()
    {
        await using var second = await StartFakeAsync();
        var first = await StartFakeAsync();
        var config = Config($"""
            model_list:
            {Entry("pool", first)}
            {Entry("pool", second)}
            """);
        await using var proxy = await ProxyFixture.StartAsync(first, config: config);

        var bases = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("pool")));
            Assert.Equal(200, answer.Status);
            bases.Add(answer.Headers[OpenAIRelay.ApiBaseHeader]);
        }

        Assert.Equal(3, first.CountOf(ChatPath));
        Assert.Equal(3, second.CountOf(ChatPath));
        Assert.Equal(2, bases.Distinct().Count());
    }

    [Fact]
    public async Task ServerErrorBeforeTheFirstByte_IsRetried()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(503, "model is restarting"));
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(502, "still loading"));

        var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat(Key)));

        Assert.Equal(200, answer.Status);
        Assert.Equal(3, proxy.Upstream.CountOf(ChatPath));
    }

    [Fact]
    public async Task ServerError_IsNotRetried_WhenNumRetriesIsZero()
    {
        var config = Config("""
            router_settings:
              num_retries: 0
            """);
        await using var proxy = await ProxyFixture.StartAsync(config: config);
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(500, "model crashed"));

        var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat(Key)));

        Assert.Equal(502, answer.Status);
        Assert.Equal(1, proxy.Upstream.CountOf(ChatPath));
    }

    [Fact]
    public async Task ClientError_IsNotRetried()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(400, "bad messages"));

        var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat(Key)));

        Assert.Equal(400, answer.Status);
        Assert.Equal(1, proxy.Upstream.CountOf(ChatPath));
    }

    [Fact]
    public async Task StreamThatBreaksAfterTheFirstByte_IsNeverRetried()
    {
        var time = new FakeTimeProvider();
        await using var proxy = await ProxyFixture.StartAsync(time: time);
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hello", " there", " friend"), dropAfter: 2));

        var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat(Key, stream: true)));
        // Past any retry delay on the router's clock: a retry after the first byte would now have been sent.
        time.Advance(DeploymentRouterDelay * 3);

        Assert.Equal(200, answer.Status);
        Assert.Contains("Hello", answer.Text, StringComparison.Ordinal);
        Assert.Contains("upstream_stream_broken", answer.Text, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Upstream.CountOf(ChatPath));
    }

    [Fact]
    public async Task ConnectFailure_IsRetriedOnTheNextDeployment()
    {
        var dead = await StartFakeAsync();
        await dead.DisposeAsync();
        var live = await StartFakeAsync();
        var config = Config($"""
            model_list:
            {Entry("pool", dead)}
            {Entry("pool", live)}
            router_settings:
              cooldown_time: 0
            """);
        await using var proxy = await ProxyFixture.StartAsync(live, config: config);

        for (var i = 0; i < 4; i++)
        {
            var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("pool")));
            Assert.Equal(200, answer.Status);
            Assert.Equal(live.BaseUrl.ToString(), answer.Headers[OpenAIRelay.ApiBaseHeader]);
        }

        Assert.Equal(4, live.CountOf(ChatPath));
    }

    [Fact]
    public async Task FailingGroup_FallsBackToTheNextGroup()
    {
        await using var backup = await StartFakeAsync();
        var primary = await StartFakeAsync();
        var config = Config($"""
            model_list:
            {Entry("primary", primary)}
            {Entry("backup", backup)}
            router_settings:
              num_retries: 1
              fallbacks:
                - primary: [backup]
            """);
        await using var proxy = await ProxyFixture.StartAsync(primary, config: config);
        primary.Enqueue(FakeResponse.ErrorString(502, "boom"));
        primary.Enqueue(FakeResponse.ErrorString(503, "boom again"));

        var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("primary")));

        Assert.Equal(200, answer.Status);
        Assert.Equal("primary", answer.Body.GetProperty("model").GetString());
        Assert.Equal(backup.BaseUrl.ToString(), answer.Headers[OpenAIRelay.ApiBaseHeader]);
        Assert.Equal(2, primary.CountOf(ChatPath));
        Assert.Equal(1, backup.CountOf(ChatPath));
    }

    [Fact]
    public async Task FailedDeployment_IsCooledDownInsteadOfHammered()
    {
        await using var healthy = await StartFakeAsync();
        var failing = await StartFakeAsync();
        failing.Responder = _ => FakeResponse.ErrorString(503, "GPU fell off the bus");
        var config = Config($"""
            model_list:
            {Entry("pool", failing)}
            {Entry("pool", healthy)}
            router_settings:
              allowed_fails: 0
              cooldown_time: 60
            """);
        await using var proxy = await ProxyFixture.StartAsync(failing, config: config);

        for (var i = 0; i < 5; i++)
        {
            var answer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("pool")));
            Assert.Equal(200, answer.Status);
        }

        var health = await SendAsync(proxy.Gateway, Get("health"));

        Assert.Equal(1, failing.CountOf(ChatPath));
        Assert.Equal(5, healthy.CountOf(ChatPath));
        var unhealthy = health.Body.GetProperty("unhealthy_endpoints").EnumerateArray().Single();
        Assert.Equal(failing.BaseUrl.ToString(), unhealthy.GetProperty("api_base").GetString());
        Assert.Contains("cooling down", unhealthy.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryDeploymentCoolingDown_Returns429WithRetryAfter()
    {
        var a = await StartFakeAsync();
        await using var b = await StartFakeAsync();
        a.Responder = _ => FakeResponse.ErrorString(503, "down");
        b.Responder = _ => FakeResponse.ErrorString(503, "down");
        var config = Config($"""
            model_list:
            {Entry("pool", a)}
            {Entry("pool", b)}
            router_settings:
              num_retries: 1
              allowed_fails: 0
              cooldown_time: 30
            """);
        await using var proxy = await ProxyFixture.StartAsync(a, config: config);

        var first = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("pool")));
        var second = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("pool")));

        Assert.Equal(502, first.Status);
        Assert.Equal(429, second.Status);
        Assert.Equal("no_deployments_available", second.ErrorCode);
        Assert.True(int.Parse(second.Headers["Retry-After"], System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 30);
        Assert.Equal(1, a.CountOf(ChatPath));
        Assert.Equal(1, b.CountOf(ChatPath));
    }

    private static readonly TimeSpan DeploymentRouterDelay = CopilotProxy.Routing.DeploymentRouter.RetryDelay;
}
