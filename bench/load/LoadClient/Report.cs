using System.Globalization;
using System.Text;

namespace CopilotProxy.Bench.LoadClient;

internal static class Report
{
    private const string Client = "LoadClient (.NET 10 HttpClient over SocketsHttpHandler, ResponseHeadersRead, Stopwatch per request)";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static RunResults Build(
        Options options,
        string startedUtc,
        StartupResult? startup,
        List<LatencyCell> latency,
        List<SlowStreamsCell> slow,
        List<ThroughputCell> throughput,
        List<WrkCell> wrk,
        ErrorLog errors)
    {
        var added = new List<AddedLatency>();
        foreach (var path in latency.Select(c => c.Path).Distinct())
        {
            if (latency.Find(c => c.Path == path && c.Hop == "direct") is not { } direct)
            {
                continue;
            }

            foreach (var cell in latency.Where(c => c.Path == path && c.Hop != "direct"))
            {
                var perRound = cell.RoundMedians.Zip(direct.RoundMedians, (a, b) => a - b).ToList();
                added.Add(new AddedLatency(
                    path, cell.Hop, cell.Total.Median - direct.Total.Median, cell.Total.P99 - direct.Total.P99,
                    cell.FirstByte.Median - direct.FirstByte.Median,
                    perRound.Count > 0 ? perRound.Min() : double.NaN, perRound.Count > 0 ? perRound.Max() : double.NaN));
            }
        }

        var summary = new List<ThroughputSummary>();
        foreach (var group in throughput.GroupBy(c => (c.Series, c.Concurrency)))
        {
            // The median over rounds, not the mean: one round disturbed by another process on a shared machine should not move it.
            double Rate(string series, int c) => Distribution.Of(
                [.. throughput.Where(x => x.Series == series && x.Concurrency == c).Select(x => x.StreamsPerSecond)]).Median;

            double Mid(Func<ThroughputCell, double> pick) => Distribution.Of([.. group.Select(pick)]).Median;

            var streams = Rate(group.Key.Series, group.Key.Concurrency);
            // CPU per stream does not depend on how much CPU other processes left over, so it compares hops fairly on a busy box.
            summary.Add(new ThroughputSummary(
                group.Key.Series, group.Key.Concurrency, streams, Mid(c => c.TokensPerSecond), Mid(c => c.TotalMs.Median),
                streams / Rate("direct", group.Key.Concurrency), streams / Rate("nginx", group.Key.Concurrency),
                Mid(c => c.HopCpuPercent), Mid(c => c.HopCpuPercent / 100 * c.Seconds / c.Streams * 1e6), Mid(c => c.ClientCpuPercent)));
        }

        var results = new RunResults(
            options.Profile.Name, startedUtc, options.Commit, options.Machine, startup, latency, added, slow, throughput, summary, wrk,
            [], errors.Count, [.. errors.Messages]);
        results.Targets.AddRange(CheckTargets(results));
        return results;
    }

    private static IEnumerable<TargetCheck> CheckTargets(RunResults r)
    {
        var relayProxy = r.Added.Find(a => a.Path == "relay" && a.Hop == "proxy");
        var relayNginx = r.Added.Find(a => a.Path == "relay" && a.Hop == "nginx");
        if (relayProxy is not null && relayNginx is not null)
        {
            var limit = Math.Max(1.5 * relayNginx.MedianMs, 0.5);
            yield return new TargetCheck(
                "relay added latency at c=1", $"<= max(1.5 x nginx {Ms(relayNginx.MedianMs)}, 0.5 ms) = {Ms(limit)}",
                Ms(relayProxy.MedianMs), relayProxy.MedianMs <= limit);
        }
        else
        {
            yield return Missing("relay added latency at c=1");
        }

        var relay16 = r.ThroughputSummary.Find(s => s.Series == "proxy relay" && s.Concurrency == 16);
        yield return relay16 is null
            ? Missing("relay throughput at c=16")
            : new TargetCheck(
                "relay throughput at c=16", ">= 0.9 x nginx", $"{relay16.VsNginx:F2} x nginx ({relay16.StreamsPerSecond:F0} streams/s)",
                relay16.VsNginx >= 0.9);

        var slowProxy = r.Slow.Where(s => s.Hop == "proxy").ToList();
        if (slowProxy.Count > 0)
        {
            var peak = slowProxy.Max(s => s.ProxyPeakRssMb);
            var failed = slowProxy.Sum(s => s.Streams - s.Completed);
            var streams = slowProxy[0].Streams;
            yield return new TargetCheck(
                $"{streams:N0} slow streams via proxy ({string.Join(", then ", slowProxy.Select(s => s.Series["proxy ".Length..]))})",
                "peak RSS <= 150 MB, 0 errors", $"{peak:F1} MB, {failed} errors", peak <= 150 && failed == 0 && streams >= 1000);
        }
        else
        {
            yield return Missing("1,000 slow streams");
        }

        if (r.Startup is { } s)
        {
            yield return new TargetCheck(
                "start to first 200 (GET /api/version)", "<= 100 ms", $"{s.MedianFirstOkMs:F1} ms (median of {s.FirstOkMs.Length})",
                s.MedianFirstOkMs <= 100);
            yield return new TargetCheck(
                $"idle RSS after {s.IdleSeconds} s", "<= 30 MB", $"{s.IdleRssMb:F1} MB", s.IdleRssMb <= 30);
        }
        else
        {
            yield return Missing("start to first 200");
            yield return Missing("idle RSS");
        }
    }

    private static TargetCheck Missing(string name) => new(name, "-", "not measured (see errors)", false);

    private static string Ms(double value) => double.IsNaN(value) ? "n/a" : value.ToString("0.000", Inv) + " ms";

    private static string F(double value, string format = "0.000") => double.IsNaN(value) ? "n/a" : value.ToString(format, Inv);

    private static string Ratio(double value) => double.IsNaN(value) || double.IsInfinity(value) ? "n/a" : value.ToString("0.00", Inv) + "x";

    public static string Markdown(RunResults r)
    {
        var md = new StringBuilder();
        md.AppendLine(Inv, $"## End-to-end benchmark ({r.Profile} profile)");
        md.AppendLine();
        md.AppendLine(Inv, $"Started {r.StartedUtc}, proxy commit `{r.Commit}`, machine: {r.Machine}.");
        md.AppendLine(Inv, $"Client for every row except the wrk table: {Client}.");
        md.AppendLine();

        md.AppendLine("### Targets");
        md.AppendLine();
        md.AppendLine("| Target | Limit | Measured | Result |");
        md.AppendLine("|---|---|---|---|");
        foreach (var t in r.Targets)
        {
            md.AppendLine(Inv, $"| {t.Target} | {t.Limit} | {t.Measured} | {(t.Met ? "met" : "**missed**")} |");
        }

        md.AppendLine();
        if (r.Latency.Count > 0)
        {
            var n = r.Latency[0].Total.Count;
            var rounds = r.Latency[0].RoundMedians.Length;
            md.AppendLine(Inv, $"### Latency at c=1 (ms; {n} requests per cell in {rounds} interleaved rounds)");
            md.AppendLine();
            md.AppendLine("Total = request sent to last byte read; first byte = first body bytes (the first token of a stream). "
                + "Added = hop minus direct; spread = range of the per-round differences of medians.");
            md.AppendLine();
            md.AppendLine("| Path | Direct total median / p99 | nginx total median / p99 | Proxy total median / p99 | nginx added median / p99 | "
                + "Proxy added median / p99 [spread] | Proxy added vs nginx added | First byte added: nginx / proxy |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var path in r.Latency.Select(c => c.Path).Distinct())
            {
                var none = new Distribution(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
                LatencyCell Cell(string hop) => r.Latency.Find(c => c.Path == path && c.Hop == hop)
                    ?? new LatencyCell(path, hop, "", "", none, none, []);
                AddedLatency Add(string hop) => r.Added.Find(a => a.Path == path && a.Hop == hop)
                    ?? new AddedLatency(path, hop, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
                var (direct, nginx, proxy) = (Cell("direct"), Cell("nginx"), Cell("proxy"));
                var (nginxAdded, proxyAdded) = (Add("nginx"), Add("proxy"));
                var label = path switch
                {
                    "relay" => "relay: POST /v1/chat/completions stream",
                    "translation" => "translation: POST /api/chat stream (direct and nginx: upstream /v1/chat/completions stream)",
                    _ => "small non-streaming POST /v1/chat/completions",
                };
                md.AppendLine(Inv,
                    $"| {label} | {F(direct.Total.Median)} / {F(direct.Total.P99)} | {F(nginx.Total.Median)} / {F(nginx.Total.P99)} | "
                    + $"{F(proxy.Total.Median)} / {F(proxy.Total.P99)} | {F(nginxAdded.MedianMs)} / {F(nginxAdded.P99Ms)} | "
                    + $"{F(proxyAdded.MedianMs)} / {F(proxyAdded.P99Ms)} [{F(proxyAdded.RoundMinMs)} .. {F(proxyAdded.RoundMaxMs)}] | "
                    + $"{Ratio(proxyAdded.MedianMs / nginxAdded.MedianMs)} | "
                    + $"{F(nginxAdded.FirstByteMedianMs)} / {F(proxyAdded.FirstByteMedianMs)} |");
            }

            md.AppendLine();
        }

        if (r.ThroughputSummary.Count > 0)
        {
            var tokens = r.Throughput[0].Streams > 0 ? r.Throughput[0].TokensPerSecond / r.Throughput[0].StreamsPerSecond : double.NaN;
            md.AppendLine(Inv, $"### Throughput (closed loop, streams/s of {F(tokens, "0")} tokens each; median over rounds)");
            md.AppendLine();
            md.AppendLine("| c | direct | nginx | proxy relay | relay vs direct | relay vs nginx | proxy translation | translation vs direct | "
                + "translation vs nginx | CPU µs per stream: nginx / proxy relay / proxy translation | client CPU (% of a core) |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var c in r.ThroughputSummary.Select(s => s.Concurrency).Distinct().Order())
            {
                ThroughputSummary? S(string series) => r.ThroughputSummary.Find(s => s.Series == series && s.Concurrency == c);
                var (direct, nginx, relay, translation) = (S("direct"), S("nginx"), S("proxy relay"), S("proxy translation"));
                md.AppendLine(Inv,
                    $"| {c} | {Sps(direct)} | {Sps(nginx)} | {Sps(relay)} | {Ratio(relay?.VsDirect ?? double.NaN)} | "
                    + $"{Ratio(relay?.VsNginx ?? double.NaN)} | {Sps(translation)} | {Ratio(translation?.VsDirect ?? double.NaN)} | "
                    + $"{Ratio(translation?.VsNginx ?? double.NaN)} | {F(nginx?.HopCpuMicrosecondsPerStream ?? double.NaN, "0")} / "
                    + $"{F(relay?.HopCpuMicrosecondsPerStream ?? double.NaN, "0")} / "
                    + $"{F(translation?.HopCpuMicrosecondsPerStream ?? double.NaN, "0")} | {F(relay?.ClientCpuPercent ?? double.NaN, "0")} |");
            }

            md.AppendLine();
        }

        if (r.Wrk.Count > 0)
        {
            md.AppendLine("### Cross-check with wrk (relay stream, one wrk thread, streams/s)");
            md.AppendLine();
            md.AppendLine("| c | direct | nginx | proxy | proxy vs direct | proxy vs nginx |");
            md.AppendLine("|---|---|---|---|---|---|");
            foreach (var c in r.Wrk.Select(w => w.Concurrency).Distinct().Order())
            {
                double W(string hop) => r.Wrk.Find(w => w.Hop == hop && w.Concurrency == c)?.RequestsPerSecond ?? double.NaN;
                md.AppendLine(Inv,
                    $"| {c} | {F(W("direct"), "0")} | {F(W("nginx"), "0")} | {F(W("proxy"), "0")} | {Ratio(W("proxy") / W("direct"))} | "
                    + $"{Ratio(W("proxy") / W("nginx"))} |");
            }

            md.AppendLine();
        }

        if (r.Slow.Count > 0)
        {
            var s0 = r.Slow[0];
            md.AppendLine(Inv,
                $"### {s0.Streams:N0} concurrent slow streams ({s0.Tokens} tokens, one every {s0.DelayMs} ms, opened over a short ramp)");
            md.AppendLine();
            md.AppendLine("| Series | Peak concurrent | Completed | Errors | Stream median / p99 (ms) | Proxy peak RSS (VmHWM) | Proxy CPU (% of a core) |");
            md.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var s in r.Slow)
            {
                md.AppendLine(Inv,
                    $"| {s.Series} | {s.PeakConcurrent} | {s.Completed} | {s.Errors} | {F(s.TotalMs.Median, "0")} / {F(s.TotalMs.P99, "0")} | "
                    + $"{(s.Hop == "proxy" ? F(s.ProxyPeakRssMb, "0.0") + " MB" : "-")} | {(s.Hop == "proxy" ? F(s.ProxyCpuPercent, "0") : "-")} |");
            }

            md.AppendLine();
        }

        if (r.Startup is { } st)
        {
            md.AppendLine("### Startup and idle");
            md.AppendLine();
            md.AppendLine("| Start to first 200 on GET /api/version (median, runs) | Start to model listed in /api/tags (median) | "
                + "Idle RSS | Idle CPU |");
            md.AppendLine("|---|---|---|---|");
            md.AppendLine(Inv,
                $"| {st.MedianFirstOkMs:F1} ms ({string.Join(", ", st.FirstOkMs.Select(v => v.ToString("F1", Inv)))}) | "
                + $"{st.MedianReadyMs:F1} ms | {st.IdleRssMb:F1} MB after {st.IdleSeconds} s | "
                + $"{st.IdleCpuPercent:F2}% of a core ({st.IdleCpuSeconds:F2} s CPU in {st.IdleSeconds} s) |");
            md.AppendLine();
        }

        md.AppendLine(r.Errors == 0 ? "Errors: none." : $"Errors: {r.Errors} (first: {string.Join("; ", r.ErrorMessages)}).");
        return md.ToString();
    }

    private static string Sps(ThroughputSummary? s) => s is null ? "n/a" : s.StreamsPerSecond.ToString("0", Inv);

    /// <summary>Whitespace-separated tables for gnuplot; "NaN" marks a missing point, which gnuplot skips.</summary>
    public static void WriteChartData(RunResults r, string outDir)
    {
        double DirectAt(int c) => r.ThroughputSummary.Find(s => s.Series == "direct" && s.Concurrency == c)?.MedianStreamMs ?? double.NaN;
        double Series(string series, int c, Func<ThroughputSummary, double> pick) =>
            r.ThroughputSummary.Find(s => s.Series == series && s.Concurrency == c) is { } s ? pick(s) : double.NaN;
        double AddedAt1(string path, string hop) => r.Added.Find(a => a.Path == path && a.Hop == hop)?.MedianMs ?? double.NaN;

        var added = new StringBuilder("# c nginx proxy_relay proxy_translation (added median stream time vs direct, ms)\n");
        added.AppendLine(Inv, $"1 {F(AddedAt1("relay", "nginx"), "0.0000")} {F(AddedAt1("relay", "proxy"), "0.0000")} {F(AddedAt1("translation", "proxy"), "0.0000")}");
        var concurrencies = r.ThroughputSummary.Select(s => s.Concurrency).Distinct().Order().ToList();
        foreach (var c in concurrencies)
        {
            var direct = DirectAt(c);
            added.AppendLine(Inv,
                $"{c} {F(Series("nginx", c, s => s.MedianStreamMs) - direct, "0.0000")} "
                + $"{F(Series("proxy relay", c, s => s.MedianStreamMs) - direct, "0.0000")} "
                + $"{F(Series("proxy translation", c, s => s.MedianStreamMs) - direct, "0.0000")}");
        }

        var throughput = new StringBuilder("# c direct nginx proxy_relay proxy_translation (streams/s)\n");
        foreach (var c in concurrencies)
        {
            throughput.AppendLine(Inv,
                $"{c} {F(Series("direct", c, s => s.StreamsPerSecond), "0.0")} {F(Series("nginx", c, s => s.StreamsPerSecond), "0.0")} "
                + $"{F(Series("proxy relay", c, s => s.StreamsPerSecond), "0.0")} {F(Series("proxy translation", c, s => s.StreamsPerSecond), "0.0")}");
        }

        File.WriteAllText(Path.Combine(outDir, "added-latency.dat"), added.ToString().Replace("n/a", "NaN", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(outDir, "throughput.dat"), throughput.ToString().Replace("n/a", "NaN", StringComparison.Ordinal));
    }
}
