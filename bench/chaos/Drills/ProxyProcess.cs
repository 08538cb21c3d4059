using System.Diagnostics;
using System.Globalization;

namespace CopilotProxy.Bench.Drills;

/// <summary>The real proxy binary as a child process on loopback ports, its output kept in a log file.</summary>
internal sealed class ProxyProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _logLock = new();

    private ProxyProcess(Process process, StreamWriter log, int ollamaPort, int gatewayPort)
    {
        _process = process;
        _log = log;
        OllamaPort = ollamaPort;
        GatewayPort = gatewayPort;
    }

    public int Pid => _process.Id;

    public int OllamaPort { get; }

    public int GatewayPort { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public Uri Ollama => new($"http://127.0.0.1:{OllamaPort}");

    public Uri Gateway => new($"http://127.0.0.1:{GatewayPort}");

    public static async Task<ProxyProcess> StartAsync(string exe, int upstreamPort, string logPath, IReadOnlyDictionary<string, string> extra)
    {
        var ollamaPort = Ports.Free();
        var gatewayPort = Ports.Free();
        var info = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        // A user's own proxy settings (auth, config file, log dir) would change what is measured.
        foreach (var inherited in new[] { "API_KEY", "LMSTUDIO_API_KEY", "CONFIG_FILE", "LOG_DIR", "DEV_MODE", "HOT_RELOAD" })
        {
            info.Environment.Remove(inherited);
        }

        info.Environment["LMSTUDIO_URL"] = $"http://127.0.0.1:{upstreamPort}";
        info.Environment["OLLAMA_PORT"] = ollamaPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["LITELLM_PORT"] = gatewayPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["HOST"] = "127.0.0.1";
        info.Environment["LOG_LEVEL"] = "WARNING";
        // An empty config file path means zero configuration; a config.yaml in the working directory must not leak in.
        info.WorkingDirectory = Path.GetTempPath();
        foreach (var (key, value) in extra)
        {
            info.Environment[key] = value;
        }

        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = info };
        var proxy = new ProxyProcess(process, log, ollamaPort, gatewayPort);
        process.OutputDataReceived += (_, e) => proxy.Log(e.Data);
        process.ErrorDataReceived += (_, e) => proxy.Log(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var started = Stopwatch.StartNew();
        while (started.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the proxy exited at start with code {process.ExitCode}; see {logPath}");
            }

            try
            {
                // The catalog must hold the fake's models before any drill names one.
                var tags = await http.GetStringAsync(new Uri(proxy.Ollama, "/api/tags"));
                if (tags.Contains("chaos-ok", StringComparison.Ordinal))
                {
                    return proxy;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Busy machine; try again.
            }

            await Task.Delay(100);
        }

        proxy.Dispose();
        throw new TimeoutException($"the proxy did not list the fake upstream's models within 60 s; see {logPath}");
    }

    /// <summary>SIGTERM, as `docker stop` or systemd sends it.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        lock (_logLock)
        {
            _log.Dispose();
        }
    }

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Lines after the end are dropped on purpose.
            }
        }
    }
}

internal static class Ports
{
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
