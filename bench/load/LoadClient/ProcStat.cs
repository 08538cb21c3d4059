using System.Diagnostics;
using System.Globalization;

namespace CopilotProxy.Bench.LoadClient;

/// <summary>Memory and CPU of a process straight from /proc, so the figures match what `ps` or `top` would show.</summary>
internal static class ProcStat
{
    // USER_HZ is 100 on every Linux architecture .NET runs on; /proc reports CPU time in those ticks.
    private const double TicksPerSecond = 100;

    public static long StatusKb(int pid, string field)
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

        return 0;
    }

    public static double RssMb(int pid) => StatusKb(pid, "VmRSS") / 1024.0;

    public static double PeakRssMb(int pid) => StatusKb(pid, "VmHWM") / 1024.0;

    /// <summary>User plus system CPU seconds of every thread of the process so far.</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name may contain spaces and parentheses; the fields we need follow the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (utime + stime) / TicksPerSecond;
    }

    /// <summary>CPU seconds of a process and its direct children: nginx does its work in worker processes.</summary>
    public static double CpuSecondsWithChildren(int pid)
    {
        var total = CpuSeconds(pid);
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            var children = File.ReadAllText(Path.Combine(task, "children"));
            foreach (var child in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                total += CpuSeconds(int.Parse(child, CultureInfo.InvariantCulture));
            }
        }

        return total;
    }

    public static int Self => Environment.ProcessId;
}

/// <summary>CPU use of one process over an interval, as a percentage of one core.</summary>
internal sealed class CpuMeter(Func<double> cpuSeconds)
{
    private readonly double _startCpu = cpuSeconds();
    private readonly long _start = Stopwatch.GetTimestamp();

    public CpuMeter(int pid)
        : this(() => ProcStat.CpuSeconds(pid))
    {
    }

    public double PercentOfOneCore()
    {
        var elapsed = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        return elapsed <= 0 ? 0 : (cpuSeconds() - _startCpu) / elapsed * 100;
    }
}
