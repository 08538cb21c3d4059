using System.Net;
using System.Net.Sockets;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Routing;

/// <summary>
/// The router retries only what can pass on a second try. Every retry of an answer that can never succeed costs the
/// user another upstream generation (or another model load) and a longer wait for the same error.
/// </summary>
public sealed class RetryTests : IDisposable
{
    private const string Key = "qwen/qwen3-8b";
    private readonly string _logs = Path.Combine(Path.GetTempPath(), "copilot-proxy-retry-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData(501, "no embeddings")]
    [InlineData(500, "image input is not supported")]
    [InlineData(400, "bad request")]
    public async Task AnswerThatCanNeverSucceed_CostsOneUpstreamCall(int status, string message)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(status, message));
        proxy.Upstream.Enqueue(FakeResponse.Json(200, "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[]}"));

        using var response = await proxy.Gateway.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key, stream: false)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(message, body, StringComparison.Ordinal);
        Assert.Equal(1, proxy.Upstream.CountOf("/v1/chat/completions"));
    }

    [Theory]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    [InlineData(429)]
    public async Task PassingFailure_IsRetried(int status)
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(status, "busy"));

        using var response = await proxy.Gateway.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key, stream: false)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, proxy.Upstream.CountOf("/v1/chat/completions"));
    }

    [Fact]
    public async Task TooManyRequests_WithARetryAfterLongerThanTheProxyWaits_GoesBackToTheClient()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(429, "slow down").WithHeader("Retry-After", "3600"));

        using var response = await proxy.Gateway.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key, stream: false)));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(1, proxy.Upstream.CountOf("/v1/chat/completions"));
    }

    [Fact]
    public async Task ConnectionClosedWithoutAnAnswer_IsRetriedAndNotLoggedAsUnreachable()
    {
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key));
        await using var closer = await ClosingForwarder.StartAsync(upstream.BaseUrl);
        await using (var proxy = await ProxyFixture.StartAsync(upstream, s => s with { LmStudioUrl = closer.Url, LogDir = _logs, LogLevel = LogLevel.Information }))
        {
            // The model catalog is loaded through the forwarder first; then the next request meets a closed connection,
            // as one sent on a connection llama.cpp's server already closed does.
            using (await proxy.Ollama.GetAsync("api/tags"))
            {
            }

            closer.CloseNextRequest = true;
            upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "fine")));
            using var response = await proxy.Ollama.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key)));
            var body = await response.Content.ReadAsStringAsync();

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("fine", body, StringComparison.Ordinal);
            Assert.False(closer.CloseNextRequest);
        }

        await upstream.DisposeAsync();
        var log = string.Concat(Directory.GetFiles(_logs).Select(File.ReadAllText));
        Assert.Contains("closed the connection without answering", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Cannot reach", log, StringComparison.Ordinal);
        Assert.DoesNotContain("net_http", log, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_logs))
        {
            Directory.Delete(_logs, recursive: true);
        }
    }

    /// <summary>A TCP forwarder to the fake that, when armed, closes the connection a request arrives on without answering.</summary>
    private sealed class ClosingForwarder : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Uri _target;
        private Task _accepting = Task.CompletedTask;
        private int _armed;

        private ClosingForwarder(Uri target) => _target = target;

        public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

        public bool CloseNextRequest
        {
            get => Volatile.Read(ref _armed) == 1;
            set => Volatile.Write(ref _armed, value ? 1 : 0);
        }

        public static Task<ClosingForwarder> StartAsync(Uri target)
        {
            var forwarder = new ClosingForwarder(target);
            forwarder._listener.Start();
            forwarder._accepting = forwarder.AcceptAsync();
            return Task.FromResult(forwarder);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting.ContinueWith(_ => { }, TaskScheduler.Default);
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(() => ServeAsync(client));
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            using (var upstream = new TcpClient())
            {
                try
                {
                    await upstream.ConnectAsync(_target.Host, _target.Port, _stop.Token);
                    var fromClient = client.GetStream();
                    var toUpstream = upstream.GetStream();
                    var back = toUpstream.CopyToAsync(fromClient, _stop.Token);
                    var buffer = new byte[16 * 1024];
                    int read;
                    while ((read = await fromClient.ReadAsync(buffer, _stop.Token)) > 0)
                    {
                        if (Interlocked.Exchange(ref _armed, 0) == 1)
                        {
                            client.Client.Close();
                            return;
                        }

                        await toUpstream.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                    }

                    await back;
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    // One side went away; the forwarded connection ends with it.
                }
            }
        }
    }
}
