using System.Globalization;
using System.Net.Http.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Ollama.Wire;

namespace CopilotProxy.Installation;

/// <summary><c>service status</c> and <c>service logs</c>: what the service manager says, whether the proxy answers, what it logged.</summary>
public static partial class ServiceCommand
{
    /// <summary>Exit 0 when the proxy answers on its Ollama port, 1 when it does not, 2 when the command itself cannot run.</summary>
    public static async Task<int> StatusAsync(ServiceOptions options, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        if (await PlannerAsync(options, error) is not { } planner)
        {
            return 2;
        }

        var layout = planner.Layout;
        var installed = !options.Print && File.Exists(layout.DefinitionPath);
        var recorded = installed ? planner.RecordedEnvironment(await File.ReadAllTextAsync(layout.DefinitionPath)) : new Dictionary<string, string>();
        var ollamaPort = Port(recorded, "OLLAMA_PORT", planner.Settings.OllamaPort);
        var gatewayPort = Port(recorded, "LITELLM_PORT", planner.Settings.GatewayPort);
        var probe = new Uri($"http://127.0.0.1:{ollamaPort}/api/version");
        var status = planner.Status();
        if (options.Print)
        {
            await output.WriteLineAsync($"{status}");
            await output.WriteLineAsync($"GET {probe}");
            return 0;
        }

        await output.WriteLineAsync(installed
            ? $"Installed: {layout.DefinitionPath}"
            : $"Not installed as a service (no {layout.DefinitionPath}); install it with: copilot-proxy service install");
        if (installed && await ServiceRunner.CaptureAsync(status) is { } said)
        {
            await output.WriteLineAsync($"$ {status}");
            foreach (var line in said.Output.Split('\n'))
            {
                await output.WriteLineAsync("    " + line.TrimEnd('\r'));
            }
        }

        var version = await ProbeAsync(probe);
        if (version is null)
        {
            await output.WriteLineAsync($"✗ Nothing answers on http://localhost:{ollamaPort}: the proxy is not running. {(installed ? "See why with: copilot-proxy service logs" : "Start it with: copilot-proxy")}");
            return 1;
        }

        await output.WriteLineAsync($"✓ The proxy answers on http://localhost:{ollamaPort} (Ollama version {version})");
        await output.WriteLineAsync($"VS Code: Copilot Chat > Manage Models > Ollama, URL http://localhost:{ollamaPort}");
        await output.WriteLineAsync($"OpenAI clients: http://localhost:{gatewayPort}/v1 (dashboard http://localhost:{gatewayPort}/ui)");
        return 0;
    }

    /// <summary>The journal on Linux; the log folder's current file (and stderr.log) elsewhere. With --follow, new lines as they come.</summary>
    public static async Task<int> LogsAsync(ServiceOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        if (await PlannerAsync(options, error) is not { } planner)
        {
            return 2;
        }

        if (planner.Logs(options.Follow) is { } journal)
        {
            if (options.Print)
            {
                await output.WriteLineAsync(journal.ToString());
                return 0;
            }

            // journalctl writes to the terminal itself (paging off), so --follow works as it does when typed.
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(journal.FileName, journal.Arguments) { UseShellExecute = false });
            if (process is null)
            {
                await error.WriteLineAsync("copilot-proxy: journalctl could not be started.");
                return 2;
            }

            await process.WaitForExitAsync(cancellationToken);
            return process.ExitCode;
        }

        var folder = planner.Layout.LogFolder!;
        var current = planner.Layout.Join(folder, Telemetry.LogFiles.FileName);
        var stderr = planner.Layout.Join(folder, "stderr.log");
        if (options.Print)
        {
            await output.WriteLineAsync($"tail -n 200 {(options.Follow ? "-f " : "")}\"{stderr}\" \"{current}\"");
            return 0;
        }

        if (!File.Exists(current) && !File.Exists(stderr))
        {
            await error.WriteLineAsync($"copilot-proxy: no logs in {folder} yet: is the service installed (copilot-proxy service status)?");
            return 1;
        }

        long position = 0;
        foreach (var file in new[] { stderr, current }.Where(File.Exists))
        {
            var lines = await File.ReadAllLinesAsync(file, cancellationToken);
            foreach (var line in lines.TakeLast(200))
            {
                await output.WriteLineAsync(line);
            }
        }

        position = File.Exists(current) ? new FileInfo(current).Length : 0;
        while (options.Follow && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(500, cancellationToken);
            position = await PrintNewAsync(current, position, output, cancellationToken);
        }

        return 0;
    }

    private static async Task<long> PrintNewAsync(string path, long position, TextWriter output, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        // A rollover starts a new, shorter file: read it from its start.
        stream.Position = stream.Length < position ? 0 : position;
        using var reader = new StreamReader(stream);
        await output.WriteAsync(await reader.ReadToEndAsync(cancellationToken));
        await output.FlushAsync(cancellationToken);
        return stream.Length;
    }

    private static int Port(IReadOnlyDictionary<string, string> recorded, string name, int fallback) =>
        recorded.TryGetValue(name, out var value) && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : fallback;

    /// <summary>The Ollama version /api/version reports, or null when nothing (or something else) answers.</summary>
    private static async Task<string?> ProbeAsync(Uri url)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            var version = await http.GetFromJsonAsync(url, OllamaJsonContext.Default.VersionResponse);
            return version?.Version;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
