using System.Text.Json.Serialization;

namespace CopilotProxy.Bench.LoadClient;

internal sealed record Distribution(int Count, double Median, double P99, double P25, double P75, double Min, double Max)
{
    public static Distribution Of(List<double> values)
    {
        if (values.Count == 0)
        {
            return new Distribution(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        values.Sort();
        return new Distribution(
            values.Count, Quantile(values, 0.5), Quantile(values, 0.99), Quantile(values, 0.25), Quantile(values, 0.75),
            values[0], values[^1]);
    }

    // Linear interpolation between closest ranks (the same definition numpy uses by default).
    private static double Quantile(List<double> sorted, double q)
    {
        var position = (sorted.Count - 1) * q;
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Count - 1);
        return sorted[lower] + ((sorted[upper] - sorted[lower]) * (position - lower));
    }
}

/// <summary>Concurrency-1 latency of one path through one hop, in milliseconds.</summary>
internal sealed record LatencyCell(
    string Path,
    string Hop,
    string Url,
    string Client,
    Distribution FirstByte,
    Distribution Total,
    double[] RoundMedians);

/// <summary>Proxy (or nginx) minus direct at c=1; the spread is the range of the per-round differences.</summary>
internal sealed record AddedLatency(
    string Path,
    string Hop,
    double MedianMs,
    double P99Ms,
    double FirstByteMedianMs,
    double RoundMinMs,
    double RoundMaxMs);

internal sealed record ThroughputCell(
    string Series,
    string Hop,
    int Concurrency,
    int Round,
    double Seconds,
    int Streams,
    double StreamsPerSecond,
    double TokensPerSecond,
    Distribution TotalMs,
    int Errors,
    double HopCpuPercent,
    double ClientCpuPercent);

internal sealed record ThroughputSummary(
    string Series,
    int Concurrency,
    double StreamsPerSecond,
    double TokensPerSecond,
    double MedianStreamMs,
    double VsDirect,
    double VsNginx,
    double HopCpuPercent,
    double HopCpuMicrosecondsPerStream,
    double ClientCpuPercent);

internal sealed record WrkCell(string Hop, int Concurrency, double Seconds, double RequestsPerSecond, long Requests, long Errors);

internal sealed record SlowStreamsCell(
    string Series,
    string Hop,
    int Streams,
    int Tokens,
    int DelayMs,
    int PeakConcurrent,
    int Completed,
    int Errors,
    double WallSeconds,
    Distribution TotalMs,
    double ProxyPeakRssMb,
    double ProxySampledPeakRssMb,
    double ProxyCpuPercent);

internal sealed record StartupResult(
    double[] FirstOkMs,
    double[] ReadyMs,
    double MedianFirstOkMs,
    double MedianReadyMs,
    int IdleSeconds,
    double IdleRssMb,
    double IdleCpuPercent,
    double IdleCpuSeconds);

internal sealed record TargetCheck(string Target, string Limit, string Measured, bool Met);

internal sealed record RunResults(
    string Profile,
    string StartedUtc,
    string Commit,
    string Machine,
    StartupResult? Startup,
    List<LatencyCell> Latency,
    List<AddedLatency> Added,
    List<SlowStreamsCell> Slow,
    List<ThroughputCell> Throughput,
    List<ThroughputSummary> ThroughputSummary,
    List<WrkCell> Wrk,
    List<TargetCheck> Targets,
    int Errors,
    List<string> ErrorMessages);

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(RunResults))]
internal sealed partial class ResultsJsonContext : JsonSerializerContext;
