using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Telemetry;

/// <summary>
/// Serves <see cref="ProxyMetrics"/> as Prometheus text (exposition format 0.0.4) at GET /metrics: a
/// <see cref="MeterListener"/> that aggregates each measurement in place, then writes every series on a scrape.
/// </summary>
/// <remarks>
/// This replaced OpenTelemetry's SDK and its (pre-release) Prometheus exporter, which together cost 1.1 MB of the Native
/// AOT binary and about 2.5 MB of idle RSS (docs/performance.md) for the one thing the proxy used them for. It handles
/// exactly the instrument kinds ProxyMetrics creates (Counter&lt;long&gt;, UpDownCounter&lt;long&gt;,
/// Histogram&lt;double&gt; with explicit buckets) and names them as that exporter did: dots become underscores, unit
/// "s" adds <c>_seconds</c>, counters add <c>_total</c>. It listens to this app's own <see cref="Meter"/> only, so two
/// proxies in one process (tests) never see each other's measurements. With the SDK back in the binary for tracing,
/// its exporter would still add 0.6 MB and change the output (sorted labels, a scope label, no unobserved families);
/// docs/performance.md has the comparison.
/// </remarks>
public sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly List<Family> _families = [];
    private readonly Lock _familiesLock = new();

    public PrometheusExporter(ProxyMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter != metrics.Meter || Family.Create(instrument) is not { } family)
            {
                return;
            }

            lock (_familiesLock)
            {
                _families.Add(family);
            }

            listener.EnableMeasurementEvents(instrument, family);
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Every series, families in the order ProxyMetrics created them.</summary>
    public string Scrape()
    {
        Family[] families;
        lock (_familiesLock)
        {
            families = [.. _families];
        }

        var text = new StringBuilder(4096);
        foreach (var family in families)
        {
            family.Write(text);
        }

        return text.ToString();
    }

    public Task WriteAsync(HttpContext context)
    {
        context.Response.ContentType = ContentType;
        return context.Response.WriteAsync(Scrape(), context.RequestAborted);
    }

    public void Dispose() => _listener.Dispose();

    private enum Kind
    {
        Counter,
        Gauge,
        Histogram,
    }

    private sealed class Family(string name, string help, Kind kind, double[] bounds)
    {
        // Keyed by the rendered label set (`a="x",b="y"`); a handful of routes × models × statuses, bounded by design.
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);

        public static Family? Create(Instrument instrument)
        {
            var name = instrument.Name.Replace('.', '_') + (instrument.Unit == "s" ? "_seconds" : "");
            var help = instrument.Description ?? "";
            return instrument switch
            {
                Counter<long> => new Family(name + "_total", help, Kind.Counter, []),
                UpDownCounter<long> => new Family(name, help, Kind.Gauge, []),
                Histogram<double> histogram => new Family(name, help, Kind.Histogram, [.. histogram.Advice?.HistogramBucketBoundaries ?? DefaultBounds]),
                _ => null,
            };
        }

        // OpenTelemetry's default explicit buckets, for a histogram created without advice.
        private static readonly double[] DefaultBounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

        public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => SeriesFor(tags).Add(value);

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => SeriesFor(tags).Observe(value, bounds);

        private Series SeriesFor(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags);
            return _series.TryGetValue(labels, out var series) ? series : _series.GetOrAdd(labels, _ => new Series(bounds.Length));
        }

        public void Write(StringBuilder text)
        {
            text.Append("# TYPE ").Append(name).Append(' ').Append(kind switch { Kind.Counter => "counter", Kind.Gauge => "gauge", _ => "histogram" }).Append('\n');
            text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
            foreach (var (labels, series) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                if (kind != Kind.Histogram)
                {
                    Sample(text, name, labels, null, series.Value);
                    continue;
                }

                var (buckets, sum, count) = series.Snapshot();
                var cumulative = 0L;
                for (var i = 0; i < bounds.Length; i++)
                {
                    cumulative += buckets[i];
                    Sample(text, name + "_bucket", labels, Number(bounds[i]), cumulative);
                }

                Sample(text, name + "_bucket", labels, "+Inf", count);
                text.Append(name).Append("_sum");
                LabelSet(text, labels, null);
                text.Append(' ').Append(Number(sum)).Append('\n');
                Sample(text, name + "_count", labels, null, count);
            }
        }

        private static void Sample(StringBuilder text, string name, string labels, string? le, long value)
        {
            text.Append(name);
            LabelSet(text, labels, le);
            text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        private static void LabelSet(StringBuilder text, string labels, string? le)
        {
            if (labels.Length == 0 && le is null)
            {
                return;
            }

            text.Append('{').Append(labels);
            if (le is not null)
            {
                text.Append(labels.Length == 0 ? "" : ",").Append("le=\"").Append(le).Append('"');
            }

            text.Append('}');
        }

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.IsEmpty)
            {
                return "";
            }

            var text = new StringBuilder(64);
            foreach (var (key, value) in tags)
            {
                if (text.Length > 0)
                {
                    text.Append(',');
                }

                text.Append(key).Append("=\"");
                var escaped = (Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")
                    .Replace("\\", "\\\\", StringComparison.Ordinal)
                    .Replace("\"", "\\\"", StringComparison.Ordinal)
                    .Replace("\n", "\\n", StringComparison.Ordinal);
                text.Append(escaped);

                text.Append('"');
            }

            return text.ToString();
        }

        private static string Number(double value) =>
            double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>One label set: a value (counter, gauge) or buckets, sum and count (histogram).</summary>
    private sealed class Series(int bounds)
    {
        private readonly long[] _buckets = new long[bounds + 1];
        private readonly Lock _lock = new();
        private long _value;
        private double _sum;
        private long _count;

        public long Value => Interlocked.Read(ref _value);

        public void Add(long value) => Interlocked.Add(ref _value, value);

        public void Observe(double value, double[] upperBounds)
        {
            // Bucket i holds values up to and including upperBounds[i]; the last one everything above.
            var index = Array.BinarySearch(upperBounds, value);
            if (index < 0)
            {
                index = ~index;
            }

            lock (_lock)
            {
                _buckets[index]++;
                _sum += value;
                _count++;
            }
        }

        public (long[] Buckets, double Sum, long Count) Snapshot()
        {
            lock (_lock)
            {
                return ([.. _buckets], _sum, _count);
            }
        }
    }
}
