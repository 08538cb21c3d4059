using System.Globalization;

namespace CopilotProxy.Bench.LoadClient;

/// <summary>How much of each phase to run; the smoke profile keeps every phase but shrinks it to seconds.</summary>
internal sealed record Profile(
    string Name,
    int StartupRuns,
    int IdleSeconds,
    int WarmupPerCell,
    int Rounds,
    int RequestsPerRound,
    int LatencyTokens,
    int SlowStreams,
    int SlowTokens,
    int SlowDelayMs,
    int SlowRampMs,
    int[] Concurrencies,
    int ThroughputTokens,
    double ThroughputWarmSeconds,
    double ThroughputSeconds,
    int ThroughputRounds,
    int[] WrkConcurrencies,
    int WrkSeconds)
{
    public static readonly Profile Full = new(
        "full", StartupRuns: 5, IdleSeconds: 60, WarmupPerCell: 300, Rounds: 10, RequestsPerRound: 200, LatencyTokens: 32,
        SlowStreams: 1000, SlowTokens: 20, SlowDelayMs: 100, SlowRampMs: 500,
        Concurrencies: [16, 64, 256], ThroughputTokens: 32, ThroughputWarmSeconds: 0.5, ThroughputSeconds: 3, ThroughputRounds: 4,
        WrkConcurrencies: [16, 64, 256], WrkSeconds: 5);

    // Still 1,000 slow streams: the socket limits and the proxy's connection handling are what a smoke run must prove.
    public static readonly Profile Smoke = new(
        "smoke", StartupRuns: 2, IdleSeconds: 3, WarmupPerCell: 20, Rounds: 2, RequestsPerRound: 20, LatencyTokens: 32,
        SlowStreams: 1000, SlowTokens: 5, SlowDelayMs: 100, SlowRampMs: 200,
        Concurrencies: [16, 64], ThroughputTokens: 32, ThroughputWarmSeconds: 0.2, ThroughputSeconds: 1, ThroughputRounds: 1,
        WrkConcurrencies: [16], WrkSeconds: 1);
}

internal sealed record Options(
    Uri Upstream,
    Uri Nginx,
    string ProxyExe,
    int OllamaPort,
    int LitellmPort,
    string OutDir,
    Profile Profile,
    bool Strict,
    string? Wrk,
    string? PidFile,
    int? NginxPid,
    string Commit,
    string Machine)
{
    public static Options Parse(string[] args)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var key = args[i];
            if (!key.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{key}'");
            }

            if (key is "--smoke" or "--strict")
            {
                flags.Add(key);
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{key} needs a value");
            }

            map[key] = args[++i];
        }

        string Required(string key) =>
            map.TryGetValue(key, out var value) ? value : throw new ArgumentException($"missing {key}");

        int Port(string key) => int.Parse(Required(key), CultureInfo.InvariantCulture);

        return new Options(
            new Uri(Required("--upstream")),
            new Uri(Required("--nginx")),
            Required("--proxy-exe"),
            Port("--ollama-port"),
            Port("--litellm-port"),
            Required("--out"),
            flags.Contains("--smoke") ? Profile.Smoke : Profile.Full,
            flags.Contains("--strict"),
            map.GetValueOrDefault("--wrk"),
            map.GetValueOrDefault("--pid-file"),
            map.TryGetValue("--nginx-pid", out var nginxPid) ? int.Parse(nginxPid, CultureInfo.InvariantCulture) : null,
            map.GetValueOrDefault("--commit") ?? "unknown",
            map.GetValueOrDefault("--machine") ?? "unknown");
    }
}
