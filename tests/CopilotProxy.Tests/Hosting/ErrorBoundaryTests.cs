using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using CopilotProxy.Telemetry;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Hosting;

/// <summary>A client that breaks off its own request is not an internal error: no 500, no error line for an operator to chase.</summary>
public sealed class ErrorBoundaryTests : IDisposable
{
    private readonly string _logs = Path.Combine(Path.GetTempPath(), "copilot-proxy-boundary-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("ollama", "/api/chat")]
    [InlineData("gateway", "/v1/chat/completions")]
    public async Task ClientClosesBeforeItsBodyEnds_IsAClientOutcome_AndLogsNoError(string door, string path)
    {
        await using var proxy = await StartAsync();
        using (var socket = await ConnectAsync(door == "ollama" ? proxy.OllamaUrl : proxy.GatewayUrl))
        {
            await socket.SendAsync(Head(path, contentLength: 1000).Concat("{\"model\":\"q"u8.ToArray()).ToArray());
            // Kestrel does not keep half-closed connections: the FIN ends the request, and there is nobody left to answer.
            // Kestrel closes its side with a FIN or, with the unread body pending, a reset; either way no bytes come back.
            socket.Shutdown(SocketShutdown.Send);
            Assert.Equal(string.Empty, await ReadUntilClosedAsync(socket));
        }

        // Which of two client outcomes it is depends on a race inside Kestrel: the FIN aborts the request (499), or the
        // body read first finds the body cut short (400, Kestrel's verdict, written to a connection already closing).
        // Seen both ways in CI; never a 500, never an error line.
        var lines = await LogLinesAsync(path, "499", "400");
        Assert.DoesNotContain(lines, l => l.Contains("Unhandled error", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("\"level\":\"Error\"", StringComparison.Ordinal) && l.Contains("\"category\":\"CopilotProxy", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClientResetsWhileSendingItsBody_LogsNoError_AndTheProxyKeepsServing()
    {
        await using var proxy = await StartAsync();
        using (var socket = await ConnectAsync(proxy.OllamaUrl))
        {
            await socket.SendAsync(Head("/api/chat", contentLength: 1000).Concat("{\"model\":\"q"u8.ToArray()).ToArray());
            // The reset must land while the handler is reading the body: wait until the request is in flight.
            var traffic = proxy.App.Services.GetRequiredService<LiveTraffic>();
            var clock = Stopwatch.StartNew();
            while (!traffic.InFlight().Any(r => r.Path == "/api/chat"))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the request never reached the proxy's pipeline");
                await Task.Delay(10);
            }

            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }

        var lines = await LogLinesAsync("/api/chat", "499");
        Assert.DoesNotContain(lines, l => l.Contains("Unhandled error", StringComparison.Ordinal));
        // Ours only: Kestrel itself sometimes logs that it could not drain the reset body, which is its own business.
        Assert.DoesNotContain(lines, l => l.Contains("\"level\":\"Error\"", StringComparison.Ordinal) && l.Contains("\"category\":\"CopilotProxy", StringComparison.Ordinal));
        using var next = await proxy.Ollama.GetAsync("api/tags");
        Assert.True(next.IsSuccessStatusCode);
    }

    public void Dispose()
    {
        if (Directory.Exists(_logs))
        {
            Directory.Delete(_logs, recursive: true);
        }
    }

    private Task<ProxyFixture> StartAsync() =>
        ProxyFixture.StartAsync(configure: s => s with { LogDir = _logs, LogLevel = LogLevel.Information });

    private static byte[] Head(string path, int contentLength) => Encoding.ASCII.GetBytes(
        $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n");

    private static async Task<Socket> ConnectAsync(Uri url)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", url.Port);
        return socket;
    }

    /// <summary>Everything the proxy sends until it closes the connection, with a FIN or a reset.</summary>
    private static async Task<string> ReadUntilClosedAsync(Socket socket)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var text = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token)) > 0)
            {
                text.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        return text.ToString();
    }

    /// <summary>Every log line, once the request's own completion line (written after the error boundary ran) is there with one of the statuses.</summary>
    private async Task<List<string>> LogLinesAsync(string route, params string[] statuses)
    {
        List<string> lines = [];
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lines = Directory.Exists(_logs) ? [.. Directory.GetFiles(_logs).SelectMany(ReadShared)] : [];
            if (lines.Any(l => l.Contains($"\"Route\":\"{route}\"", StringComparison.Ordinal)
                && statuses.Any(status => l.Contains($"\"Status\":{status},", StringComparison.Ordinal))))
            {
                return lines;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"no log line for {route} with status {string.Join(" or ", statuses)}; the log has:\n{string.Join('\n', lines)}");
            await Task.Delay(20);
        }
    }

    private static IEnumerable<string> ReadShared(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

}
