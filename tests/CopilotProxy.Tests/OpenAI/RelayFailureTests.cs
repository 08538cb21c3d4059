using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>What a client sees when something goes wrong: always an answer in OpenAI's shape, never a hang, never a status Copilot misreads.</summary>
public sealed class RelayFailureTests
{
    private const string Key = "qwen/qwen3-8b";

    private static async Task<(HttpStatusCode Status, JsonElement Error)> PostAsync(HttpClient client, string body, string path = "v1/chat/completions")
    {
        using var response = await client.SendAsync(ProxyFixture.CopilotPost(path, body));
        var text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        return (response.StatusCode, json.RootElement.GetProperty("error").Clone());
    }

    [Fact]
    public async Task UpstreamNotRunning_Returns502NamingTheUrlAndTheFix()
    {
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key));
        await using var proxy = await ProxyFixture.StartAsync(upstream);
        var url = upstream.BaseUrl;
        await upstream.DisposeAsync();
        var (status, error) = await PostAsync(proxy.Ollama, CopilotRequests.Chat(Key));

        Assert.Equal(HttpStatusCode.BadGateway, status);
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains(url.Authority, message, StringComparison.Ordinal);
        Assert.Contains("LMSTUDIO_URL", message, StringComparison.Ordinal);
        Assert.Equal("upstream_unreachable", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task NoModelsLoadedStringError_IsNormalisedToOpenAIShape()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(400, FakeLmStudio.NoModelsLoadedMessage));

        var (status, error) = await PostAsync(proxy.Ollama, CopilotRequests.Chat(Key));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(FakeLmStudio.NoModelsLoadedMessage, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task ObjectError_KeepsTheUpstreamMessageAndCode()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorObject(404, "Model \"x\" not found", "invalid_request_error", "model", "model_not_found"));

        var (status, error) = await PostAsync(proxy.Ollama, CopilotRequests.Chat(Key));

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("Model \"x\" not found", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(503)]
    [InlineData(500)]
    public async Task UpstreamStatusesCopilotMisreads_AreNeverPassedThrough(int upstreamStatus)
    {
        // 401/403 make Copilot reset its GitHub token; 503 shows as a rate limit (docs/protocol.md §1.5).
        await using var proxy = await ProxyFixture.StartAsync();
        // A 5xx is retried num_retries times before the client sees it; every attempt gets the same answer here.
        for (var attempt = 0; attempt <= CopilotProxy.Configuration.RouterSettings.DefaultNumRetries; attempt++)
        {
            proxy.Upstream.Enqueue(FakeResponse.ErrorString(upstreamStatus, "nope"));
        }

        var (status, error) = await PostAsync(proxy.Ollama, CopilotRequests.Chat(Key));

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains($"answered {upstreamStatus}", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upstream401_TellsTheUserToSetTheLmStudioKey()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(401, "unauthorized"));

        var (_, error) = await PostAsync(proxy.Ollama, CopilotRequests.Chat(Key));

        Assert.Contains("LMSTUDIO_API_KEY", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedJson_Returns400_AndNeverReachesTheUpstream()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var (status, error) = await PostAsync(proxy.Ollama, """{"model":"qwen/qwen3-8b","messages":[""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not valid JSON", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, proxy.Upstream.CountOf("/v1/chat/completions"));
    }

    [Fact]
    public async Task MissingModel_Returns400()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var (status, error) = await PostAsync(proxy.Ollama, """{"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("model", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task UnknownModel_Returns404ListingTheAvailableOnes()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var (status, error) = await PostAsync(proxy.Ollama, CopilotRequests.Chat("gpt-9"));

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Contains(Key, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OversizedBody_Returns413()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { MaxRequestBodyBytes = 1024 });
        var big = CopilotRequests.Chat(Key).Replace("Weather in Paris?", new string('x', 4096), StringComparison.Ordinal);

        var (status, error) = await PostAsync(proxy.Ollama, big);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("MAX_REQUEST_BODY_MB", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectionDroppedMidStream_EndsWithAnInBandErrorNotAHang()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "one", "two", "three"), dropAfter: 2));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)));
        var turn = await CopilotSseParser.ParseAsync(response).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("onetwo", turn.Text);
        Assert.Contains("upstream_stream_broken", Assert.Single(turn.StreamErrors), StringComparison.Ordinal);
        Assert.Contains("broke mid-stream", turn.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamEndingWithoutFinishOrDone_IsReportedAsIncomplete()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(new LmStudioSse(Key).Content("partial").WithoutDone()));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)));
        var turn = await CopilotSseParser.ParseAsync(response);

        Assert.Equal("partial", turn.Text);
        Assert.Contains("closed the stream before the answer finished", turn.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MidStreamErrorString_IsRelayedAsAnOpenAIErrorEvent()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(new LmStudioSse(Key).Content("a").Raw("""{"error":"Model unloaded"}""").WithoutDone()));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)));
        var turn = await CopilotSseParser.ParseAsync(response);

        Assert.Contains("Model unloaded", Assert.Single(turn.StreamErrors), StringComparison.Ordinal);
        Assert.Contains("Model unloaded", turn.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientDisconnects_UpstreamRequestIsCanceled()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "a", "b", "c"), delayBetween: TimeSpan.FromSeconds(30)));

        var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)));
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        _ = await stream.ReadAsync(buffer);
        response.Dispose();

        var aborted = await proxy.Upstream.NextClientDisconnectAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("/v1/chat/completions", aborted.Path);
    }

    [Fact]
    public async Task AfterAFailure_TheProxyKeepsServing()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        await PostAsync(proxy.Ollama, "{not json");
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "still here")));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)));
        var turn = await CopilotSseParser.ParseAsync(response);

        Assert.Equal("still here", turn.Text);
    }
}
