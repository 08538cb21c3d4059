using System.Diagnostics;
using System.Globalization;

namespace CopilotProxy.Bench.Drills;

/// <summary>
/// Many concurrent streams over mixed endpoints for a fixed time, sampling the proxy every interval into a CSV, then
/// the proxy at rest. Passes when RSS at rest comes back to within <see cref="RestAllowanceMib"/> of the idle RSS before
/// the load (see Judge), no request fails, and the p99 of the last third stays within 1.5x (plus 20 ms) of the first
/// third after warm-up.
/// </summary>
internal static class Soak
{
    /// <summary>
    /// What RSS at rest may keep over the idle RSS before the load: the proxy's idle collection hands the GC's headroom
    /// back, so what stays is what the load left alive (measured: +1.4 MiB after the CI form's 75,000 requests). A leak
    /// of about 110 bytes per request would break it there.
    /// </summary>
    private const double RestAllowanceMib = 8;

    private static readonly Api[] Mix = [Api.OpenAIStream, Api.OllamaChat, Api.OpenAIStream, Api.OllamaGenerate, Api.OpenAIJson, Api.OllamaChat, Api.OllamaTags];

    public static async Task<int> RunAsync(Options options)
    {
        await using var upstream = await FaultUpstream.StartAsync();
        upstream.Tokens = options.Tokens;
        upstream.DelayMs = options.DelayMs;
        Directory.CreateDirectory(options.Out);
        using var proxy = await ProxyProcess.StartAsync(options.ProxyExe, upstream.Port, Path.Combine(options.Out, "proxy.log"), options.ProxyEnv);
        var idleRss = Proc.RssMib(proxy.Pid);
        var http = Calls.NewClient(options.Concurrency * 2);
        Console.WriteLine($"soak: {options.Concurrency} streams for {options.Duration.TotalSeconds:0}s, sample every {options.Interval.TotalSeconds:0}s, "
            + $"{options.Tokens} tokens x {options.DelayMs} ms; proxy pid {proxy.Pid}, upstream {upstream}");

        var window = new List<double>();
        var windowLock = new Lock();
        long errors = 0, requests = 0;
        string? firstError = null;
        using var stop = new CancellationTokenSource(options.Duration);
        var workers = Enumerable.Range(0, options.Concurrency).Select(async worker =>
        {
            var i = worker;
            while (!stop.IsCancellationRequested)
            {
                var api = Mix[i++ % Mix.Length];
                var outcome = await Calls.SendAsync(http, proxy, api, "chaos-ok", TimeSpan.FromSeconds(60));
                Interlocked.Increment(ref requests);
                if (!Calls.Ok(outcome) || (api != Api.OllamaTags && api != Api.OpenAIJson && outcome.Content.Length == 0))
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, $"{api}: {outcome.Summary()}", null);
                }

                lock (windowLock)
                {
                    window.Add(outcome.Elapsed.TotalMilliseconds);
                }
            }
        }).ToArray();

        var csvPath = Path.Combine(options.Out, "soak.csv");
        var samples = new List<Sample>();
        await using (var csv = new StreamWriter(csvPath))
        {
            await csv.WriteLineAsync("elapsed_s,rss_mib,handles,threads,requests,errors,rps,p50_ms,p99_ms,upstream_connections");
            var clock = Stopwatch.StartNew();
            long lastRequests = 0;
            var next = options.Interval;
            while (!stop.IsCancellationRequested && !proxy.HasExited)
            {
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                double[] latencies;
                lock (windowLock)
                {
                    latencies = [.. window];
                    window.Clear();
                }

                Array.Sort(latencies);
                var total = Interlocked.Read(ref requests);
                var sample = new Sample(
                    clock.Elapsed.TotalSeconds, Proc.RssMib(proxy.Pid), Proc.Handles(proxy.Pid), Proc.Threads(proxy.Pid), total, Interlocked.Read(ref errors),
                    (total - lastRequests) / options.Interval.TotalSeconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), upstream.OpenConnections);
                lastRequests = total;
                samples.Add(sample);
                await csv.WriteLineAsync(sample.ToCsv());
                await csv.FlushAsync();
                Console.WriteLine($"  {sample.ElapsedS,6:0}s rss {sample.RssMib,6:0.0} MiB handles {sample.Handles,4} threads {sample.Threads,3} "
                    + $"rps {sample.Rps,6:0.0} p50 {sample.P50,6:0.0} ms p99 {sample.P99,6:0.0} ms errors {sample.Errors}");
                next += options.Interval;
            }
        }

        await Task.WhenAll(workers);

        // At rest: the clients' connections closed, no request in flight. GC headroom goes back at the proxy's idle
        // collection; what a leak holds stays.
        http.Dispose();
        var restRss = await Proc.RestRssMibAsync(proxy);
        Console.WriteLine($"  at rest: RSS {restRss:0.0} MiB within {Proc.RestWatch.TotalSeconds:0}s after the load (idle before it: {idleRss:0.0} MiB)");
        var alive = !proxy.HasExited;
        return Judge(options, samples, idleRss, restRss, Interlocked.Read(ref errors), firstError, alive, csvPath);
    }

    private static int Judge(Options options, List<Sample> samples, double idleRss, double restRss, long errors, string? firstError, bool alive, string csvPath)
    {
        var warm = samples.Where(s => s.ElapsedS > options.WarmUp.TotalSeconds).ToList();
        if (warm.Count < 3)
        {
            Console.WriteLine("soak: FAIL: too few samples after warm-up to judge; run longer");
            return 1;
        }

        var third = Math.Max(1, warm.Count / 3);
        // Under load, RSS is the live set plus the GC's headroom, and .NET 10's DATAS resizes that headroom as it likes: a
        // 4-minute run's floors went 85.5 -> 87.9 -> 99.6 MiB on one CI run and 86.2 -> 76.1 -> 70.5 on the next, same
        // code. So the floors are reported, and the leak check is at rest, where the idle collection has taken the
        // headroom away: what a leak holds is still there.
        var floors = new[] { warm.Take(third), warm.Skip(third).Take(warm.Count - (2 * third)), warm.TakeLast(third) }
            .Select(t => t.Min(s => s.RssMib)).ToArray();
        var growth = (floors[2] - floors[0]) / floors[0] * 100;
        var rising = floors[1] > floors[0] * 1.02 && floors[2] > floors[1] * 1.02;
        var firstP99 = Median(warm.Take(third).Select(s => s.P99));
        var lastP99 = Median(warm.TakeLast(third).Select(s => s.P99));
        var peak = samples.Max(s => s.RssMib);
        var rssOk = restRss <= idleRss + RestAllowanceMib;
        var p99Ok = lastP99 <= (firstP99 * 1.5) + 20;
        var pass = rssOk && p99Ok && errors == 0 && alive;

        var summary = string.Create(CultureInfo.InvariantCulture,
            $"| RSS at rest, {Proc.RestWatch.TotalSeconds:0} s after the load | within {RestAllowanceMib:0} MiB of idle before it | {restRss:0.0} MiB, idle before {idleRss:0.0} MiB ({restRss - idleRss:+0.0;-0.0}) | {(rssOk ? "PASS" : "FAIL")} |\n"
            + $"| RSS floor under load (lowest sample per third; reported, not judged) | | {floors[0]:0.0} -> {floors[1]:0.0} -> {floors[2]:0.0} MiB ({growth:+0.0;-0.0}%{(rising ? ", rising" : "")}), peak {peak:0.0} MiB | |\n"
            + $"| errors | 0 | {errors} of {samples[^1].Requests} requests{(firstError is null ? "" : $" (first: {firstError})")} | {(errors == 0 ? "PASS" : "FAIL")} |\n"
            + $"| p99 latency | last third <= 1.5x first third + 20 ms | {firstP99:0.0} -> {lastP99:0.0} ms | {(p99Ok ? "PASS" : "FAIL")} |\n"
            + $"| process | alive at the end | {(alive ? "alive" : "exited")} | {(alive ? "PASS" : "FAIL")} |\n");
        Console.WriteLine();
        Console.WriteLine("| check | expected | result | verdict |");
        Console.WriteLine("|---|---|---|---|");
        Console.Write(summary);
        File.WriteAllText(Path.Combine(options.Out, "summary.md"),
            $"Soak: {options.Concurrency} concurrent streams, {options.Duration.TotalMinutes:0.#} min, warm-up {options.WarmUp.TotalSeconds:0}s; samples in {Path.GetFileName(csvPath)}\n\n"
            + "| check | expected | result | verdict |\n|---|---|---|---|\n" + summary);
        Console.WriteLine($"soak: {(pass ? "PASS" : "FAIL")}; samples in {csvPath}");
        return pass ? 0 : 1;
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    private sealed record Sample(double ElapsedS, double RssMib, int Handles, int Threads, long Requests, long Errors, double Rps, double P50, double P99, int UpstreamConnections)
    {
        public string ToCsv() => string.Create(CultureInfo.InvariantCulture,
            $"{ElapsedS:0},{RssMib:0.0},{Handles},{Threads},{Requests},{Errors},{Rps:0.0},{P50:0.0},{P99:0.0},{UpstreamConnections}");
    }
}
