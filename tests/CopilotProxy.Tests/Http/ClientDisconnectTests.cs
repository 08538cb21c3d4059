using System.Diagnostics;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Http;

/// <summary>The leak users hit with peers: an upstream generation left running after its client left.</summary>
public class ClientDisconnectTests
{
    private const string Key = "qwen/qwen3-8b";

    [Fact]
    public async Task ClientLeavesMidStream_UpstreamConnectionClosedWithinASecond()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "a", "b", "c"), delayBetween: TimeSpan.FromSeconds(30)));

        // No response draining: HttpClient would otherwise keep reading a disposed response for up to 2 s to reuse the connection.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = proxy.OllamaUrl };
        var response = await ProxyFixture.SendStreamingAsync(client, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)));
        var stream = await response.Content.ReadAsStreamAsync();
        _ = await stream.ReadAsync(new byte[64]);
        var left = Stopwatch.StartNew();
        response.Dispose();

        var aborted = await proxy.Upstream.NextClientDisconnectAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("/v1/chat/completions", aborted.Path);
        Assert.True(left.Elapsed < TimeSpan.FromSeconds(1), $"the upstream saw the disconnect only after {left.Elapsed}");
    }

    [Fact]
    public async Task ClientLeavesBeforeHeaders_UpstreamConnectionClosedWithinASecond()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Hang());

        using var cancel = new CancellationTokenSource();
        var request = proxy.Gateway.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        await WaitForAsync(() => proxy.Upstream.CountOf("/v1/chat/completions") == 1);
        var left = Stopwatch.StartNew();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

        var aborted = await proxy.Upstream.NextClientDisconnectAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("/v1/chat/completions", aborted.Path);
        Assert.True(left.Elapsed < TimeSpan.FromSeconds(1), $"the upstream saw the disconnect only after {left.Elapsed}");
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "timed out waiting");
            await Task.Delay(20);
        }
    }
}
