using System.Globalization;

namespace CopilotProxy.Bench.Drills;

/// <summary>A process's resources straight from /proc, so the figures match what `ps`, `ls /proc/PID/fd` or `top` show.</summary>
internal static class Proc
{
    /// <summary>How long <see cref="RestRssMibAsync"/> watches: past the proxy's idle collection, 30 s after the last request.</summary>
    public static readonly TimeSpan RestWatch = TimeSpan.FromSeconds(45);

    public static double RssMib(int pid) => StatusKb(pid, "VmRSS") / 1024.0;

    public static double PeakRssMib(int pid) => StatusKb(pid, "VmHWM") / 1024.0;

    /// <summary>
    /// The proxy's RSS at rest: the lowest over <see cref="RestWatch"/> without requests. Its idle collection, 30 s after
    /// the last request (SharedPool.IdleDelay), hands the GC's headroom back; what stays is what is still alive.
    /// </summary>
    public static async Task<double> RestRssMibAsync(ProxyProcess proxy)
    {
        var lowest = double.MaxValue;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < RestWatch && !proxy.HasExited)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            lowest = Math.Min(lowest, RssMib(proxy.Pid));
        }

        return lowest;
    }

    public static int Threads(int pid) => (int)StatusKb(pid, "Threads");

    public static int Handles(int pid)
    {
        try
        {
            return Directory.GetFiles($"/proc/{pid}/fd").Length;
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
    }

    private static long StatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal) && line.Length > field.Length && line[field.Length] == ':')
                {
                    var digits = line.AsSpan(field.Length + 1).Trim();
                    var space = digits.IndexOf(' ');
                    return long.Parse(space < 0 ? digits : digits[..space], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // The process is gone; callers check that separately.
        }

        return 0;
    }
}
