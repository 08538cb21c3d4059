using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using CopilotProxy.Telemetry;
using Microsoft.AspNetCore.Http;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace CopilotProxy.Benchmarks;

/// <summary>How tracing is set up for a run.</summary>
public enum TracingMode
{
    /// <summary>No OTEL_EXPORTER_OTLP_ENDPOINT: no SDK, no listener (the default).</summary>
    Off,

    /// <summary>The SDK listens to the proxy's source but its sampler (<c>OTEL_TRACES_SAMPLER=always_off</c>) records nothing.</summary>
    OnNotSampled,

    /// <summary>The SDK listens and records every span, but has no exporter to hand them to.</summary>
    OnNoExporter,

    /// <summary>
    /// The SDK records every span and batches it, as the proxy's OTLP exporter does, to an exporter in process that drops
    /// the batch: the cost on the request's thread plus the batch thread's, without a network in the figure.
    /// </summary>
    OnExporting,
}

/// <summary>
/// The tracing work one proxied request does on its own thread: read the client's traceparent, the server span, one
/// upstream attempt span with its traceparent header, the GenAI attributes and a change event at the end. Off is the baseline.
/// </summary>
[MemoryDiagnoser]
public class TracingBenchmarks
{
    private static readonly Uri Upstream = new("http://127.0.0.1:1234/v1/chat/completions");

    private DefaultHttpContext _context = null!;
    private TracerProvider? _provider;
    private DroppingExporter? _exporter;

    [Params(TracingMode.Off, TracingMode.OnNotSampled, TracingMode.OnNoExporter, TracingMode.OnExporting)]
    public TracingMode Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _context = new DefaultHttpContext();
        _context.Request.Method = "POST";
        _context.Request.Path = "/v1/chat/completions";
        _context.Request.Headers.UserAgent = "GitHubCopilotChat/0.31.0";
        _context.Request.Headers["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var builder = Mode switch
        {
            TracingMode.Off => null,
            // always_off, not the default parentbased_always_on: the client's traceparent is flagged sampled.
            TracingMode.OnNotSampled => Sdk.CreateTracerProviderBuilder().AddSource(RequestTracing.SourceName).SetSampler(new AlwaysOffSampler()),
            TracingMode.OnNoExporter => Sdk.CreateTracerProviderBuilder().AddSource(RequestTracing.SourceName),
            _ => Sdk.CreateTracerProviderBuilder().AddSource(RequestTracing.SourceName)
                .AddProcessor(new BatchActivityExportProcessor(_exporter = new DroppingExporter())),
        };
        _provider = builder?.Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _provider?.Dispose();
        // So a reader of the log can see the exporter was handed the spans, not skipped.
        if (_exporter is not null)
        {
            Console.WriteLine($"// exported spans: {_exporter.Exported:N0}");
        }
    }

    [Benchmark]
    public string? Request()
    {
        var telemetry = new RequestTelemetry(Stopwatch.GetTimestamp()) { UserAgent = "GitHubCopilotChat/0.31.0", ClientModel = "qwen/qwen3-8b:latest" };
        var server = RequestTracing.StartServer(_context.Request, telemetry);
        var attempt = RequestTracing.StartAttempt("v1/chat/completions", "qwen/qwen3-8b", Upstream, 1);
        var traceParent = RequestTracing.TraceParentFor(attempt, telemetry);
        telemetry.UpstreamModel = "qwen/qwen3-8b";
        telemetry.Record(null, "tool_calls", 1136, 30);
        telemetry.RecordRepairedFormat("hermes");
        telemetry.RecordRepairedToolCalls(1);
        if (attempt is not null)
        {
            RequestTracing.FinishAttempt(attempt, 200, telemetry);
        }

        if (server is not null)
        {
            RequestTracing.FinishServer(server, telemetry, "POST", "/v1/chat/completions", 200, "chat");
        }

        return traceParent;
    }

    /// <summary>Takes each batch and drops it, counting the spans: the exporter's own cost is the network's, not the proxy's.</summary>
    private sealed class DroppingExporter : BaseExporter<Activity>
    {
        private long _exported;

        public long Exported => Interlocked.Read(ref _exported);

        public override ExportResult Export(in Batch<Activity> batch)
        {
            Interlocked.Add(ref _exported, batch.Count);
            return ExportResult.Success;
        }
    }
}
