using System.Diagnostics;
using System.Net;
using CopilotProxy.Queueing;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;
using static CopilotProxy.Tests.Keys.KeyClient;

namespace CopilotProxy.Tests.Queueing;

/// <summary>The fair queue in front of a deployment with <c>max_parallel_requests</c>, through the real proxy and a slow fake LM Studio.</summary>
public class FairQueueProxyTests(ITestOutputHelper output)
{
    private const string Model = "qwen/qwen3-8b";

    private static async Task<ProxyFixture> StartAsync(int slots, Func<RecordedRequest, FakeResponse?> responder, TimeSpan? queueTimeout = null, TimeSpan? heartbeat = null)
    {
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Model, loadedContextLength: 16384));
        upstream.Responder = r => r.Path == "/v1/chat/completions" ? responder(r) : null;
        var config = GatewayHarness.Config($"""
            model_list:
              - model_name: {Model}
                litellm_params:
                  model: openai/{Model}
                  api_base: {upstream.BaseUrl}v1
                  max_parallel_requests: {slots}
            """);
        return await ProxyFixture.StartAsync(upstream, s => s with { ApiKey = Master, QueueTimeout = queueTimeout ?? TimeSpan.FromSeconds(120), StreamHeartbeat = heartbeat ?? s.StreamHeartbeat }, config);
    }

    private static int Depth(ProxyFixture proxy) => proxy.App.Services.GetRequiredService<DeploymentQueues>().Queues.Values.Sum(q => q.Depth);

    private static async Task WaitForDepthAsync(ProxyFixture proxy, int depth)
    {
        for (var i = 0; i < 200 && Depth(proxy) != depth; i++)
        {
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }

        Assert.Equal(depth, Depth(proxy));
    }

    private static Task<(HttpResponseMessage Response, System.Text.Json.Nodes.JsonNode? Json)> Send(ProxyFixture proxy, string key, string who, bool stream = true) =>
        SendAsync(proxy.Gateway, HttpMethod.Post, "/v1/chat/completions", key,
            $$"""{"model":"{{Model}}","user":"{{who}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""");

    [Fact]
    public async Task TwoSlots_KeyASends20ThenKeyBSends2_BsFirstStartsWithinAsNext2()
    {
        await using var proxy = await StartAsync(2, _ => FakeResponse.Sse(LmStudioStreams.Text(Model, "one", " two", " three"), TimeSpan.FromMilliseconds(40)));
        var a = await GenerateAsync(proxy.Gateway, """{"key_alias":"A"}""");
        var b = await GenerateAsync(proxy.Gateway, """{"key_alias":"B"}""");
        var clock = Stopwatch.StartNew();

        var requests = Enumerable.Range(1, 20).Select(i => Send(proxy, a, $"A{i}")).ToList();
        await WaitForDepthAsync(proxy, 18);
        requests.AddRange(Enumerable.Range(1, 2).Select(i => Send(proxy, b, $"B{i}")));
        await WaitForDepthAsync(proxy, 20);
        var queuedAt = clock.Elapsed;

        var answers = await Task.WhenAll(requests);
        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.Response.StatusCode));

        var order = proxy.Upstream.Requests.Where(r => r.Path == "/v1/chat/completions").OrderBy(r => r.Sequence)
            .Select(r => (string)r.Json!["user"]!).ToList();
        output.WriteLine($"upstream start order (2 slots; A's 20 sent, then B's 2 once 18 of A's waited; all 22 queued at {queuedAt.TotalMilliseconds:0} ms):");
        output.WriteLine("  " + string.Join(" ", order));
        Assert.Equal(22, order.Count);
        // A's 20 (and B's 2) were sent at once, so their numbers say nothing about order; the key does. Positions 0 and 1
        // are the two A requests already running; at most two more of A's may start before B's first.
        var firstB = order.FindIndex(who => who.StartsWith('B'));
        Assert.InRange(firstB, 2, 4);
        Assert.All(order.Take(2), who => Assert.StartsWith("A", who, StringComparison.Ordinal));
        // B's second follows within a few grants (two slots granted together may reach LM Studio in either order);
        // first come, first served would have started both B requests last, at 20 and 21.
        Assert.InRange(order.FindLastIndex(who => who.StartsWith('B')), firstB + 1, 7);
    }

    [Fact]
    public async Task QueueTimeout_Answers429ThatSaysWhy()
    {
        await using var proxy = await StartAsync(1, _ => FakeResponse.Hang(), TimeSpan.FromSeconds(1));
        var hanging = Send(proxy, Master, "first", stream: false);
        await WaitForUpstreamAsync(proxy, 1);

        var (response, json) = await Send(proxy, Master, "second", stream: false);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("queue_timeout", (string)json!["error"]!["code"]!);
        Assert.Contains("max_parallel_requests", (string)json["error"]!["message"]!, StringComparison.Ordinal);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(1, proxy.Upstream.Requests.Count(r => r.Path == "/v1/chat/completions"));
        Assert.False(hanging.IsCompleted);
    }

    [Fact]
    public async Task ClientDisconnectsWhileQueued_LeavesTheQueueAtOnce()
    {
        await using var proxy = await StartAsync(1, _ => FakeResponse.Hang());
        _ = Send(proxy, Master, "first", stream: false);
        await WaitForUpstreamAsync(proxy, 1);

        using var client = new HttpClient { BaseAddress = proxy.GatewayUrl };
        using var leaving = new CancellationTokenSource();
        using var request = GatewayHarness.Post("/v1/chat/completions", GatewayHarness.Chat(Model), bearer: Master);
        var waiting = client.SendAsync(request, leaving.Token);
        await WaitForDepthAsync(proxy, 1);

        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await WaitForDepthAsync(proxy, 0);
        Assert.Equal(1, proxy.Upstream.Requests.Count(r => r.Path == "/v1/chat/completions"));
    }

    [Fact]
    public async Task StreamWaitingInTheQueue_GetsHeartbeats()
    {
        await using var proxy = await StartAsync(1, _ => FakeResponse.Hang(), heartbeat: TimeSpan.FromMilliseconds(200));
        _ = Send(proxy, Master, "first", stream: false);
        await WaitForUpstreamAsync(proxy, 1);

        using var request = GatewayHarness.Post("/v1/chat/completions", GatewayHarness.Chat(Model, stream: true), bearer: Master);
        using var response = await proxy.Gateway.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        // The 200 and the first keep-alive come while the request still waits for the slot.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        var buffer = new byte[64];
        var read = await body.ReadAsync(buffer, TestContext.Current.CancellationToken);
        Assert.StartsWith(":", System.Text.Encoding.UTF8.GetString(buffer, 0, read), StringComparison.Ordinal);
        Assert.Equal(1, Depth(proxy));
    }

    [Fact]
    public async Task LmStudiosReportedParallelSlots_CapADiscoveredModel()
    {
        // No config.yaml: the model is discovered, and the fake reports LM Studio's default of 4 parallel slots.
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Model, loadedContextLength: 16384));
        upstream.Responder = r => r.Path == "/v1/chat/completions" ? FakeResponse.Hang() : null;
        await using var proxy = await ProxyFixture.StartAsync(upstream, s => s with { ApiKey = Master });

        var requests = Enumerable.Range(1, 6).Select(i => Send(proxy, Master, $"r{i}", stream: false)).ToList();
        await WaitForUpstreamAsync(proxy, 4);
        await WaitForDepthAsync(proxy, 2);

        Assert.Equal(4, proxy.Upstream.Requests.Count(r => r.Path == "/v1/chat/completions"));
        Assert.All(requests, r => Assert.False(r.IsCompleted));
    }

    private static async Task WaitForUpstreamAsync(ProxyFixture proxy, int count)
    {
        for (var i = 0; i < 200 && proxy.Upstream.Requests.Count(r => r.Path == "/v1/chat/completions") < count; i++)
        {
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }
}
