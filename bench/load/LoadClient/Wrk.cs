using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace CopilotProxy.Bench.LoadClient;

/// <summary>wrk as an independent throughput check: a C client on epoll, so a slow .NET client would show up as a gap.</summary>
internal static partial class Wrk
{
    public static async Task<WrkCell?> Run(
        string wrk, string script, string hop, Uri url, int concurrency, int seconds, ErrorLog errors)
    {
        // One wrk thread: the machine has two cores and the upstream and the proxy need them more than wrk does.
        var info = new ProcessStartInfo(wrk)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "-t1", $"-c{concurrency}", $"-d{seconds}s", "--timeout", "10s", "-s", script, url.ToString() })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var rate = RequestsPerSecond().Match(stdout);
        var total = RequestCount().Match(stdout);
        if (process.ExitCode != 0 || !rate.Success || !total.Success)
        {
            errors.Add($"wrk {hop}", $"exit {process.ExitCode}: {stdout}{stderr}".Trim());
            return null;
        }

        long failures = 0;
        if (NonSuccess().Match(stdout) is { Success: true } non2xx)
        {
            failures += long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        if (SocketErrors().Match(stdout) is { Success: true } socket)
        {
            for (var g = 1; g <= 4; g++)
            {
                failures += long.Parse(socket.Groups[g].Value, CultureInfo.InvariantCulture);
            }
        }

        if (failures > 0)
        {
            errors.Add($"wrk {hop} c={concurrency}", $"{failures} failed requests: {stdout.Trim()}");
        }

        return new WrkCell(
            hop, concurrency, seconds, double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture),
            long.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture), failures);
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestCount();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();
}
