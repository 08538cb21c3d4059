using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Http;

/// <summary>SIGTERM against the real process (the built copilot-proxy apphost), not an in-process host.</summary>
public class ShutdownDrainTests
{
    private const string Key = "qwen/qwen3-8b";

    [Fact]
    public async Task Sigterm_StreamCompletes_ReadinessAnswered503_NewConnectionsRefused_ExitCode0()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key, loadedContextLength: 16384));
        var tokens = Enumerable.Range(0, 12).Select(i => $"t{i} ").ToArray();
        upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, tokens), delayBetween: TimeSpan.FromMilliseconds(350)));
        await using var proxy = await RealProxy.StartAsync(upstream.BaseUrl, gracefulSeconds: 20);

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var response = await ProxyFixture.SendStreamingAsync(client,
            ProxyFixture.CopilotPost($"{proxy.OllamaUrl}v1/chat/completions", CopilotRequests.Chat(Key)));
        var body = await response.Content.ReadAsStreamAsync();
        var received = new StringBuilder();
        var buffer = new byte[4096];
        received.Append(Encoding.UTF8.GetString(buffer, 0, await body.ReadAsync(buffer)));

        proxy.Terminate();
        var sawNotReady = false;
        var deadline = Stopwatch.StartNew();
        while (!sawNotReady && deadline.Elapsed < TimeSpan.FromSeconds(1))
        {
            sawNotReady = await proxy.ReadinessStatusAsync() == HttpStatusCode.ServiceUnavailable;
        }

        var refusedAt = await proxy.WaitUntilRefusedAsync(TimeSpan.FromSeconds(5));

        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        var streamEndedAt = deadline.Elapsed;
        var exitCode = await proxy.WaitForExitAsync(TimeSpan.FromSeconds(15));

        Assert.True(sawNotReady, "readiness never answered 503 after SIGTERM\n" + proxy.Output);
        Assert.NotNull(refusedAt);
        Assert.True(refusedAt < streamEndedAt, $"new connections were refused only at {refusedAt}, after the stream ended at {streamEndedAt}");
        var text = received.ToString();
        Assert.Contains("t11 ", text, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"error\"", text, StringComparison.Ordinal);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task Sigterm_StreamOutlivesTimeout_EndsWithInBandError_UpstreamAborted_ExitCode0()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key, loadedContextLength: 16384));
        upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "first ", "never"), delayBetween: TimeSpan.FromSeconds(60)));
        await using var proxy = await RealProxy.StartAsync(upstream.BaseUrl, gracefulSeconds: 2);

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var response = await ProxyFixture.SendStreamingAsync(client,
            ProxyFixture.CopilotPost($"{proxy.OllamaUrl}v1/chat/completions", CopilotRequests.Chat(Key)));
        var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        var received = new StringBuilder(Encoding.UTF8.GetString(buffer, 0, await body.ReadAsync(buffer)));

        var clock = Stopwatch.StartNew();
        proxy.Terminate();
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        var ended = clock.Elapsed;
        var aborted = await upstream.NextClientDisconnectAsync(TimeSpan.FromSeconds(5));
        var exitCode = await proxy.WaitForExitAsync(TimeSpan.FromSeconds(15));

        Assert.Contains("proxy_shutting_down", received.ToString(), StringComparison.Ordinal);
        Assert.Contains("GRACEFUL_SHUTDOWN_TIMEOUT", received.ToString(), StringComparison.Ordinal);
        Assert.InRange(ended, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(6));
        Assert.Equal("/v1/chat/completions", aborted.Path);
        Assert.Equal(0, exitCode);
    }

    /// <summary>The proxy as its own OS process, on free loopback ports, in front of a fake LM Studio.</summary>
    private sealed class RealProxy : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly int _gatewayPort;

        private RealProxy(Process process, int ollamaPort, int gatewayPort)
        {
            _process = process;
            _gatewayPort = gatewayPort;
            OllamaUrl = new Uri($"http://127.0.0.1:{ollamaPort}/");
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Uri OllamaUrl { get; }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static async Task<RealProxy> StartAsync(Uri upstream, int gracefulSeconds)
        {
            var (ollamaPort, gatewayPort) = (FreePort(), FreePort());
            var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "copilot-proxy"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.Environment["LMSTUDIO_URL"] = upstream.ToString();
            start.Environment["OLLAMA_PORT"] = ollamaPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["LITELLM_PORT"] = gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["HOST"] = "127.0.0.1";
            start.Environment["GRACEFUL_SHUTDOWN_TIMEOUT"] = gracefulSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["DEV_MODE"] = "true";
            start.Environment["CONFIG_FILE"] = null;
            var proxy = new RealProxy(Process.Start(start)!, ollamaPort, gatewayPort);

            var ready = Stopwatch.StartNew();
            while (await proxy.ReadinessStatusAsync() != HttpStatusCode.OK)
            {
                if (ready.Elapsed > TimeSpan.FromSeconds(30) || proxy._process.HasExited)
                {
                    throw new InvalidOperationException("The proxy did not become ready:\n" + proxy.Output);
                }

                await Task.Delay(100);
            }

            return proxy;
        }

        public void Terminate()
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        /// <summary>Readiness over a fresh connection; null when the connection itself failed.</summary>
        public async Task<HttpStatusCode?> ReadinessStatusAsync()
        {
            using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero }) { Timeout = TimeSpan.FromSeconds(2) };
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{_gatewayPort}/health/readiness"));
                return response.StatusCode;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return null;
            }
        }

        /// <summary>Polls with new TCP connections until one is refused; returns how long after the first poll that was.</summary>
        public async Task<TimeSpan?> WaitUntilRefusedAsync(TimeSpan limit)
        {
            var clock = Stopwatch.StartNew();
            var since = Stopwatch.StartNew();
            while (clock.Elapsed < limit)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync(IPAddress.Loopback, _gatewayPort);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    return since.Elapsed;
                }

                await Task.Delay(50);
            }

            return null;
        }

        public async Task<int> WaitForExitAsync(TimeSpan limit)
        {
            using var timeout = new CancellationTokenSource(limit);
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        private void Append(string? line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
