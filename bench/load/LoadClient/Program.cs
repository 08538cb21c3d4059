using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Bench.LoadClient;

Options options;
try
{
    options = Options.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    await Console.Error.WriteLineAsync("load-client: " + ex.Message);
    return 64;
}

Directory.CreateDirectory(options.OutDir);
var bench = new Bench(options);

// Ctrl-C or a kill of the script must not leave a proxy listening behind us.
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => bench.StopProxy());
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => bench.StopProxy());
return await bench.Run();

namespace CopilotProxy.Bench.LoadClient
{
    internal sealed class Bench(Options options)
    {
        private readonly Profile _profile = options.Profile;
        private readonly ErrorLog _errors = new();
        private readonly Uri _proxyBase = new($"http://127.0.0.1:{options.OllamaPort}/");
        private readonly HttpClient _control = Requests.NewClient();
        private readonly HttpClient _direct = Requests.NewClient();
        private readonly HttpClient _nginx = Requests.NewClient();
        private readonly HttpClient _viaProxy = Requests.NewClient();
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly HashSet<Uri> _unavailable = [];
        private ProxyHost? _proxy;

        private readonly byte[] _streamBody = Requests.ChatBody(stream: true);
        private readonly byte[] _smallBody = Requests.ChatBody(stream: false);

        public void StopProxy() => _proxy?.Stop();

        public async Task<int> Run()
        {
            var startedUtc = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture);
            StartupResult? startup = null;
            List<LatencyCell> latency = [];
            List<SlowStreamsCell> slow = [];
            List<ThroughputCell> throughput = [];
            List<WrkCell> wrk = [];
            try
            {
                startup = await MeasureStartup();
                if (startup is not null)
                {
                    latency = await MeasureLatency();
                    slow = await MeasureSlowStreams();
                    throughput = await MeasureThroughput();
                    if (options.Wrk is not null)
                    {
                        wrk = await MeasureWithWrk();
                    }
                }
            }
            finally
            {
                if (_proxy is { HasExited: true })
                {
                    _errors.Add("proxy", "exited during the run; see proxy.log");
                }

                _proxy?.Dispose();
            }

            var report = Report.Build(options, startedUtc, startup, latency, slow, throughput, wrk, _errors);
            await File.WriteAllTextAsync(
                Path.Combine(options.OutDir, "results.json"),
                JsonSerializer.Serialize(report, ResultsJsonContext.Default.RunResults));
            var markdown = Report.Markdown(report);
            await File.WriteAllTextAsync(Path.Combine(options.OutDir, "results.md"), markdown);
            Report.WriteChartData(report, options.OutDir);
            Console.WriteLine(markdown);

            if (_errors.Count > 0)
            {
                await Console.Error.WriteLineAsync($"FAILED: {_errors.Count} error(s):");
                foreach (var message in _errors.Messages)
                {
                    await Console.Error.WriteLineAsync("  " + message);
                }

                return 1;
            }

            if (options.Strict && report.Targets.Exists(t => !t.Met))
            {
                await Console.Error.WriteLineAsync("FAILED: targets missed (--strict)");
                return 3;
            }

            return 0;
        }

        private void Progress(string message) =>
            Console.Error.WriteLine($"[{Stopwatch.GetElapsedTime(_started).TotalSeconds,6:F1}s] {message}");

        private async Task SetUpstream(int tokens, int delayMs)
        {
            using var response = await _control.PostAsync(
                new Uri(options.Upstream, $"/_bench/config?tokens={tokens}&delay_ms={delayMs}"), content: null);
            response.EnsureSuccessStatusCode();
        }

        private Target DirectStream => new("direct", new Uri(options.Upstream, "/v1/chat/completions"), _streamBody, BodyKind.Sse, _direct);

        private Target NginxStream => new("nginx", new Uri(options.Nginx, "/v1/chat/completions"), _streamBody, BodyKind.Sse, _nginx);

        private Target ProxyRelay => new("proxy", new Uri(_proxyBase, "/v1/chat/completions"), _streamBody, BodyKind.Sse, _viaProxy);

        private Target ProxyTranslation => new("proxy", new Uri(_proxyBase, "/api/chat"), _streamBody, BodyKind.Ndjson, _viaProxy);

        private (string Path, Target[] Targets)[] LatencyPaths =>
        [
            ("relay", [DirectStream, NginxStream, ProxyRelay]),
            ("translation", [DirectStream, NginxStream, ProxyTranslation]),
            ("small", [
                new("direct", new Uri(options.Upstream, "/v1/chat/completions"), _smallBody, BodyKind.Json, _direct),
                new("nginx", new Uri(options.Nginx, "/v1/chat/completions"), _smallBody, BodyKind.Json, _nginx),
                new("proxy", new Uri(_proxyBase, "/v1/chat/completions"), _smallBody, BodyKind.Json, _viaProxy),
            ]),
        ];

        private (string Series, Target Target)[] StreamSeries =>
        [
            ("direct", DirectStream),
            ("nginx", NginxStream),
            ("proxy relay", ProxyRelay),
            ("proxy translation", ProxyTranslation),
        ];

        private bool ProxyAlive()
        {
            if (_proxy is { HasExited: false })
            {
                return true;
            }

            _errors.Add("proxy", "not running; see proxy.log");
            return false;
        }

        private async Task<StartupResult?> MeasureStartup()
        {
            var logPath = Path.Combine(options.OutDir, "proxy.log");
            var versionUrl = new Uri(_proxyBase, "/api/version");
            var tagsUrl = new Uri(_proxyBase, "/api/tags");
            var firstOk = new double[_profile.StartupRuns];
            var ready = new double[_profile.StartupRuns];
            for (var run = 0; run < _profile.StartupRuns; run++)
            {
                var start = Stopwatch.GetTimestamp();
                var host = ProxyHost.Start(options, logPath);
                var ok = await host.WaitFor200(versionUrl, start, TimeSpan.FromSeconds(15));
                var listed = ok is null
                    ? null
                    : await host.WaitFor200(tagsUrl, start, TimeSpan.FromSeconds(30), body => body.Contains("bench-model", StringComparison.Ordinal));
                if (ok is null || listed is null)
                {
                    _errors.Add(
                        "startup",
                        ok is null
                            ? $"no 200 from GET {versionUrl} within 15 s{(host.HasExited ? " (proxy exited)" : "")}"
                            : $"GET {tagsUrl} did not list bench-model within 30 s");
                    host.Dispose();
                    return null;
                }

                firstOk[run] = ok.Value.TotalMilliseconds;
                ready[run] = listed.Value.TotalMilliseconds;
                Progress($"startup run {run + 1}: first 200 after {firstOk[run]:F1} ms, model listed after {ready[run]:F1} ms");
                if (run < _profile.StartupRuns - 1)
                {
                    host.Dispose();
                }
                else
                {
                    _proxy = host;
                }
            }

            Progress($"idling {_profile.IdleSeconds} s to measure idle RSS and CPU");
            var pid = _proxy!.Pid;
            var cpuBefore = ProcStat.CpuSeconds(pid);
            await Task.Delay(TimeSpan.FromSeconds(_profile.IdleSeconds));
            if (!ProxyAlive())
            {
                return null;
            }

            var idleCpu = ProcStat.CpuSeconds(pid) - cpuBefore;
            return new StartupResult(
                firstOk, ready, Distribution.Of([.. firstOk]).Median, Distribution.Of([.. ready]).Median, _profile.IdleSeconds,
                ProcStat.RssMb(pid), idleCpu / _profile.IdleSeconds * 100, idleCpu);
        }

        private async Task<List<LatencyCell>> MeasureLatency()
        {
            await SetUpstream(_profile.LatencyTokens, 0);
            var paths = LatencyPaths;
            Progress($"latency warm-up: {_profile.WarmupPerCell} requests per path and hop");
            foreach (var (_, targets) in paths)
            {
                foreach (var target in targets)
                {
                    var failed = 0;
                    for (var i = 0; i < _profile.WarmupPerCell; i++)
                    {
                        failed += await Requests.RunOne(target, _errors) is null ? 1 : 0;
                    }

                    // A route that fails every warm-up request (say a 404 before a front door exists) has already made
                    // the run fail; hammering it in every later phase would only bury the other errors.
                    if (failed == _profile.WarmupPerCell && _unavailable.Add(target.Url))
                    {
                        Progress($"  {target.Hop} {target.Url.AbsolutePath} failed every warm-up request; skipped from now on");
                    }
                }
            }

            var samples = new Dictionary<(string, string), (List<double> FirstByte, List<double> Total, List<double> RoundMedians)>();
            foreach (var (path, targets) in paths)
            {
                foreach (var target in targets)
                {
                    samples[(path, target.Hop)] = ([], [], []);
                }
            }

            Progress($"latency at c=1: {_profile.Rounds} interleaved rounds of {_profile.RequestsPerRound} requests per path and hop");
            var round = new List<double>(_profile.RequestsPerRound);
            for (var r = 0; r < _profile.Rounds; r++)
            {
                foreach (var (path, targets) in paths)
                {
                    // Rotate the hop order each round so no hop always runs first (or right after another).
                    for (var k = 0; k < targets.Length; k++)
                    {
                        var target = targets[(k + r) % targets.Length];
                        if (_unavailable.Contains(target.Url))
                        {
                            continue;
                        }

                        var cell = samples[(path, target.Hop)];
                        round.Clear();
                        for (var i = 0; i < _profile.RequestsPerRound; i++)
                        {
                            if (await Requests.RunOne(target, _errors) is { } sample)
                            {
                                cell.FirstByte.Add(sample.FirstByteMs);
                                cell.Total.Add(sample.TotalMs);
                                round.Add(sample.TotalMs);
                            }
                        }

                        cell.RoundMedians.Add(Distribution.Of(round).Median);
                    }
                }
            }

            ProxyAlive();
            return [.. paths.SelectMany(p => p.Targets.Where(t => !_unavailable.Contains(t.Url)).Select(t =>
            {
                var cell = samples[(p.Path, t.Hop)];
                return new LatencyCell(
                    p.Path, t.Hop, t.Url.AbsolutePath, "LoadClient (.NET HttpClient)", Distribution.Of(cell.FirstByte),
                    Distribution.Of(cell.Total), [.. cell.RoundMedians]);
            }))];
        }

        private async Task<List<SlowStreamsCell>> MeasureSlowStreams()
        {
            var p = _profile;
            await SetUpstream(p.SlowTokens, p.SlowDelayMs);
            var cells = new List<SlowStreamsCell>();
            foreach (var (series, target) in StreamSeries)
            {
                Progress($"{p.SlowStreams} slow streams ({p.SlowTokens} tokens, one every {p.SlowDelayMs} ms) via {series}");
                var isProxy = target.Hop == "proxy";
                if (isProxy && !ProxyAlive())
                {
                    break;
                }

                if (_unavailable.Contains(target.Url))
                {
                    continue;
                }

                // Warm-up: the same burst with one token each, so thread pools and connection pools of every hop have
                // grown before the measured burst, and the first hop measured is not the only one that pays for it.
                await SetUpstream(1, p.SlowDelayMs);
                var warmups = new List<Task>(p.SlowStreams);
                for (var i = 0; i < p.SlowStreams; i++)
                {
                    if (i > 0 && i % 50 == 0)
                    {
                        await Task.Delay(p.SlowRampMs * 50 / p.SlowStreams);
                    }

                    warmups.Add(Requests.RunOne(target, _errors));
                }

                await Task.WhenAll(warmups);
                await SetUpstream(p.SlowTokens, p.SlowDelayMs);

                var errorsBefore = _errors.Count;
                var inFlight = 0;
                var peak = 0;
                var totals = new double[p.SlowStreams];
                var done = new CancellationTokenSource();
                var sampledPeak = 0.0;
                var sampler = isProxy
                    ? Task.Run(async () =>
                    {
                        while (!done.IsCancellationRequested)
                        {
                            sampledPeak = Math.Max(sampledPeak, ProcStat.RssMb(_proxy!.Pid));
                            await Task.Delay(50);
                        }
                    })
                    : Task.CompletedTask;
                var cpu = isProxy ? new CpuMeter(_proxy!.Pid) : null;
                var start = Stopwatch.GetTimestamp();

                async Task One(int index)
                {
                    var now = Interlocked.Increment(ref inFlight);
                    InterlockedMax(ref peak, now);
                    var sample = await Requests.RunOne(target, _errors);
                    Interlocked.Decrement(ref inFlight);
                    totals[index] = sample?.TotalMs ?? double.NaN;
                }

                // Open the streams in batches over a short ramp: a burst of 1,000 SYNs at once overflows the listen backlog
                // of any server, which measures the kernel rather than the proxy.
                const int Batch = 50;
                var tasks = new List<Task>(p.SlowStreams);
                for (var i = 0; i < p.SlowStreams; i++)
                {
                    if (i > 0 && i % Batch == 0)
                    {
                        await Task.Delay(p.SlowRampMs * Batch / p.SlowStreams);
                    }

                    tasks.Add(One(i));
                }

                await Task.WhenAll(tasks);
                var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var cpuPercent = cpu?.PercentOfOneCore() ?? double.NaN;
                await done.CancelAsync();
                await sampler;
                var completed = totals.Count(t => !double.IsNaN(t));
                cells.Add(new SlowStreamsCell(
                    series, target.Hop, p.SlowStreams, p.SlowTokens, p.SlowDelayMs, peak, completed, _errors.Count - errorsBefore, wall,
                    Distribution.Of([.. totals.Where(t => !double.IsNaN(t))]),
                    isProxy ? ProcStat.PeakRssMb(_proxy!.Pid) : double.NaN, isProxy ? sampledPeak : double.NaN, cpuPercent));
                var last = cells[^1];
                Progress($"  peak concurrent {peak}, completed {completed}, errors {last.Errors}, median stream {last.TotalMs.Median:F0} ms"
                    + (isProxy ? $", proxy VmHWM {last.ProxyPeakRssMb:F1} MB, CPU {cpuPercent:F0}%" : ""));
            }

            return cells;
        }

        private async Task<List<ThroughputCell>> MeasureThroughput()
        {
            var p = _profile;
            await SetUpstream(p.ThroughputTokens, 0);
            var cells = new List<ThroughputCell>();
            var series = StreamSeries;
            foreach (var concurrency in p.Concurrencies)
            {
                for (var round = 0; round < p.ThroughputRounds; round++)
                {
                    for (var k = 0; k < series.Length; k++)
                    {
                        var (name, target) = series[(k + round) % series.Length];
                        if (target.Hop == "proxy" && !ProxyAlive())
                        {
                            return cells;
                        }

                        if (_unavailable.Contains(target.Url))
                        {
                            continue;
                        }

                        var cell = await ClosedLoop(name, target, concurrency, round);
                        cells.Add(cell);
                        Progress($"throughput c={concurrency} round {round + 1} {name}: {cell.StreamsPerSecond:F0} streams/s, "
                            + $"median {cell.TotalMs.Median:F2} ms, errors {cell.Errors}, client CPU {cell.ClientCpuPercent:F0}%"
                            + (double.IsNaN(cell.HopCpuPercent) ? "" : $", {target.Hop} CPU {cell.HopCpuPercent:F0}%"));
                    }
                }
            }

            return cells;
        }

        // Closed loop: each of `concurrency` workers sends its next stream as soon as the previous one ends.
        private async Task<ThroughputCell> ClosedLoop(string series, Target target, int concurrency, int round)
        {
            var p = _profile;
            var errorsBefore = _errors.Count;
            var start = Stopwatch.GetTimestamp();
            var warmEnd = start + (long)(p.ThroughputWarmSeconds * Stopwatch.Frequency);
            var end = warmEnd + (long)(p.ThroughputSeconds * Stopwatch.Frequency);

            async Task<List<double>> Worker()
            {
                var totals = new List<double>();
                while (Stopwatch.GetTimestamp() < end)
                {
                    if (await Requests.RunOne(target, _errors) is { } sample && sample.EndTimestamp >= warmEnd && sample.EndTimestamp <= end)
                    {
                        totals.Add(sample.TotalMs);
                    }
                }

                return totals;
            }

            var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(p.ThroughputWarmSeconds));
            var hopCpu = target.Hop switch
            {
                "proxy" => new CpuMeter(_proxy!.Pid),
                "nginx" when options.NginxPid is { } nginxPid => new CpuMeter(() => ProcStat.CpuSecondsWithChildren(nginxPid)),
                _ => null,
            };
            var clientCpu = new CpuMeter(ProcStat.Self);
            await Task.Delay(TimeSpan.FromSeconds(p.ThroughputSeconds));
            var hopPercent = hopCpu?.PercentOfOneCore() ?? double.NaN;
            var clientPercent = clientCpu.PercentOfOneCore();
            var all = (await Task.WhenAll(workers)).SelectMany(t => t).ToList();
            var streamsPerSecond = all.Count / p.ThroughputSeconds;
            return new ThroughputCell(
                series, target.Hop, concurrency, round, p.ThroughputSeconds, all.Count, streamsPerSecond,
                streamsPerSecond * p.ThroughputTokens, Distribution.Of(all), _errors.Count - errorsBefore, hopPercent, clientPercent);
        }

        private async Task<List<WrkCell>> MeasureWithWrk()
        {
            var p = _profile;
            await SetUpstream(p.ThroughputTokens, 0);
            var script = Path.Combine(options.OutDir, "post-stream.lua");
            await File.WriteAllTextAsync(
                script,
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '"
                + System.Text.Encoding.UTF8.GetString(_streamBody) + "'\n");
            var cells = new List<WrkCell>();
            foreach (var concurrency in p.WrkConcurrencies)
            {
                foreach (var target in new[] { DirectStream, NginxStream, ProxyRelay })
                {
                    if (target.Hop == "proxy" && !ProxyAlive())
                    {
                        return cells;
                    }

                    var cell = await Wrk.Run(options.Wrk!, script, target.Hop, target.Url, concurrency, p.WrkSeconds, _errors);
                    if (cell is not null)
                    {
                        cells.Add(cell);
                        Progress($"wrk c={concurrency} {target.Hop} relay: {cell.RequestsPerSecond:F0} streams/s, errors {cell.Errors}");
                    }
                }
            }

            return cells;
        }

        private static void InterlockedMax(ref int location, int value)
        {
            var current = Volatile.Read(ref location);
            while (value > current)
            {
                var seen = Interlocked.CompareExchange(ref location, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }
}
