using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Diagnostics;

/// <summary>
/// A person starts copilot-proxy at a terminal before LM Studio: the real process, in the human log format, says what it
/// waits for, how to start LM Studio's server and what to paste into VS Code, once, without a wall of retries; and says
/// once when LM Studio appears.
/// </summary>
public sealed class FirstRunTests
{
    [Fact]
    public async Task NoLmStudio_ThreeLinesOnce_ThenOneLineWhenItAppears()
    {
        var (upstreamPort, ollamaPort, gatewayPort) = (FreePort(), FreePort(), FreePort());
        var output = new StringBuilder();
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "copilot-proxy"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.Environment["LMSTUDIO_URL"] = $"http://127.0.0.1:{upstreamPort}";
        start.Environment["OLLAMA_PORT"] = ollamaPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["LITELLM_PORT"] = gatewayPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["HOST"] = "127.0.0.1";
        // What a terminal gets (LOG_FORMAT=auto picks text there); the test reads a pipe, so it asks for text by name.
        start.Environment["LOG_FORMAT"] = "text";
        start.Environment["CONFIG_FILE"] = null;
        start.Environment["HOME"] = Path.GetTempPath();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var early = await WaitForAsync(output, "VS Code: Copilot Chat > Manage Models > Ollama");
            // Three more failed refreshes (1 s, 2 s backoff) before LM Studio starts: none of them may add a line.
            await Task.Delay(TimeSpan.FromSeconds(3.5));
            await using var lmStudio = await FakeLmStudio.StartAsync(port: upstreamPort);
            var log = await WaitForAsync(output, "LM Studio is up at");
            await Task.Delay(TimeSpan.FromSeconds(1));
            log = Snapshot(output);

            var lines = early.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var waiting = Assert.Single(lines, l => l.Contains("Waiting for LM Studio at", StringComparison.Ordinal));
            Assert.Contains($"http://127.0.0.1:{upstreamPort}/ (connection refused)", waiting, StringComparison.Ordinal);
            var how = Array.FindIndex(lines, l => l.Contains("Start LM Studio's server: Developer tab > Start Server, or `lms server start`", StringComparison.Ordinal));
            var vsCode = Array.FindIndex(lines, l => l.Contains($"URL http://localhost:{ollamaPort}", StringComparison.Ordinal));
            Assert.Equal(Array.IndexOf(lines, waiting) + 1, how);
            Assert.Equal(how + 1, vsCode);

            Assert.Equal(1, Count(log, "Waiting for LM Studio"));
            Assert.Equal(1, Count(log, "Start LM Studio's server"));
            Assert.Equal(1, Count(log, "Manage Models > Ollama"));
            Assert.Equal(1, Count(log, $"LM Studio is up at http://127.0.0.1:{upstreamPort}/: "));
            Assert.Equal(0, Count(log, "Cannot reach"));
            Assert.Equal(0, Count(log, "reachable again"));
            Assert.Equal(0, Count(log, "{\""));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    private static async Task<string> WaitForAsync(StringBuilder output, string text)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var log = Snapshot(output);
            if (log.Contains(text, StringComparison.Ordinal))
            {
                return log;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"'{text}' never appeared:\n{log}");
            await Task.Delay(50);
        }
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static int Count(string log, string text) => log.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
