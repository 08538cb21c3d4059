using System.Net;
using CopilotProxy.Buffers;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Buffers;

/// <summary>Every other test's requests count as activity, so these run alone.</summary>
[CollectionDefinition(nameof(IdleTrimTests), DisableParallelization = true)]
public sealed class RunsAlone;

/// <summary>
/// After a burst of use, the proxy gives the collector's headroom back to the OS once it is idle, so a desktop proxy
/// returns to its idle footprint between chats instead of keeping its peak for good; never while a request runs.
/// </summary>
[Collection(nameof(IdleTrimTests))]
public sealed class IdleTrimTests : IDisposable
{
    private const string Key = "qwen/qwen3-8b";
    private static readonly TimeSpan ShortIdle = TimeSpan.FromMilliseconds(300);
    private readonly TimeSpan _idleDelay = SharedPool.IdleDelay;

    public IdleTrimTests() => SharedPool.IdleDelay = ShortIdle;

    public void Dispose() => SharedPool.IdleDelay = _idleDelay;

    [Fact]
    public async Task AfterTheLastRequest_MemoryIsGivenBack()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key));
        await using var proxy = await ProxyFixture.StartAsync(upstream);
        var before = SharedPool.Trims;

        using var response = await proxy.Ollama.GetAsync(new Uri("api/tags", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.True(await TrimmedAsync(before, TimeSpan.FromSeconds(20)), "no collection after the proxy went idle");
    }

    [Fact]
    public async Task WhileAStreamRuns_NothingIsCollected()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key));
        upstream.Responder = _ => FakeResponse.Sse(LmStudioStreams.Text(Key, "a", "b", "c", "d"), delayBetween: TimeSpan.FromMilliseconds(600));
        await using var proxy = await ProxyFixture.StartAsync(upstream);
        // Earlier requests' countdowns run out first.
        await Task.Delay(ShortIdle * 3);
        var before = SharedPool.Trims;

        // A short request ends, which starts the countdown; the stream that begins at once must stop it from collecting.
        using (var tags = await proxy.Ollama.GetAsync(new Uri("api/tags", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, tags.StatusCode);
        }

        using var request = ProxyFixture.CopilotPost("v1/chat/completions", $$"""{"model":"{{Key}}","messages":[{"role":"user","content":"hi"}],"stream":true}""");
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Gateway, request);
        var body = await response.Content.ReadAsStringAsync();
        // The stream lasted several idle delays.
        Assert.Contains("data: [DONE]", body, StringComparison.Ordinal);
        Assert.Equal(before, SharedPool.Trims);

        Assert.True(await TrimmedAsync(before, TimeSpan.FromSeconds(20)), "no collection after the stream ended");
    }

    private static async Task<bool> TrimmedAsync(int before, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (SharedPool.Trims == before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        return SharedPool.Trims > before;
    }
}
