using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace CopilotProxy.Bench.LoadClient;

/// <summary>Runs the AOT-published proxy as a child process, with its output kept in a log file for post-mortems.</summary>
internal sealed class ProxyHost : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _logLock = new();

    private ProxyHost(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static ProxyHost Start(Options options, string logPath)
    {
        var info = new ProcessStartInfo(options.ProxyExe)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Settings a user may have exported for their own proxy (auth, config file, log dir) would change what is measured.
        foreach (var inherited in new[] { "API_KEY", "LMSTUDIO_API_KEY", "CONFIG_FILE", "LOG_DIR" })
        {
            info.Environment.Remove(inherited);
        }

        info.Environment["LMSTUDIO_URL"] = options.Upstream.GetLeftPart(UriPartial.Authority);
        info.Environment["OLLAMA_PORT"] = options.OllamaPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["LITELLM_PORT"] = options.LitellmPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["HOST"] = "127.0.0.1";
        info.Environment["LOG_LEVEL"] = "WARNING";

        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = info };
        var host = new ProxyHost(process, log);
        process.OutputDataReceived += (_, e) => host.Log(e.Data);
        process.ErrorDataReceived += (_, e) => host.Log(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (options.PidFile is { } pidFile)
        {
            File.WriteAllText(pidFile, process.Id.ToString(CultureInfo.InvariantCulture));
        }

        return host;
    }

    /// <summary>Polls every millisecond until the URL answers 200; returns the elapsed time or null on timeout.</summary>
    public async Task<TimeSpan?> WaitFor200(Uri url, long startTimestamp, TimeSpan timeout, Func<string, bool>? accept = null)
    {
        using var client = Requests.NewClient();
        client.Timeout = TimeSpan.FromSeconds(2);
        while (Stopwatch.GetElapsedTime(startTimestamp) < timeout)
        {
            if (HasExited)
            {
                return null;
            }

            try
            {
                using var response = await client.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var elapsed = Stopwatch.GetElapsedTime(startTimestamp);
                    if (accept is null || accept(await response.Content.ReadAsStringAsync()))
                    {
                        return elapsed;
                    }
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet: the normal case during the first milliseconds.
            }

            await Task.Delay(1);
        }

        return null;
    }

    public void Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }
    }

    public void Dispose()
    {
        Stop();
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
                // Output that arrives after the host was disposed is dropped on purpose.
            }
        }
    }
}
