using System.Diagnostics;
using System.Net;
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

    /// <summary>The SDK listens to the proxy's source and records every span, but has no exporter.</summary>
    OnNoReader,

    /// <summary>The SDK records every span and batches it to an OTLP (http/protobuf) collector on loopback.</summary>
    OnExporting,
}

/// <summary>
/// The tracing work one proxied request does on its own thread: read the client's traceparent, the server span, one
/// upstream attempt span with its traceparent header, the GenAI attributes at the end. Off is the baseline.
/// </summary>
[MemoryDiagnoser]
public class TracingBenchmarks
{
    private static readonly Uri Upstream = new("http://127.0.0.1:1234/v1/chat/completions");

    private DefaultHttpContext _context = null!;
    private TracerProvider? _provider;
    private HttpListener? _collector;

    [Params(TracingMode.Off, TracingMode.OnNoReader, TracingMode.OnExporting)]
    public TracingMode Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _context = new DefaultHttpContext();
        _context.Request.Method = "POST";
        _context.Request.Path = "/v1/chat/completions";
        _context.Request.Headers.UserAgent = "GitHubCopilotChat/0.31.0";
        _context.Request.Headers["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        if (Mode == TracingMode.Off)
        {
            return;
        }

        var builder = Sdk.CreateTracerProviderBuilder().AddSource(RequestTracing.SourceName);
        if (Mode == TracingMode.OnExporting)
        {
            var port = FreePort();
            _collector = new HttpListener();
            _collector.Prefixes.Add($"http://127.0.0.1:{port}/");
            _collector.Start();
            _ = AnswerAsync(_collector);
            builder.AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri($"http://127.0.0.1:{port}/v1/traces");
                o.Protocol = OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf;
            });
        }

        _provider = builder.Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _provider?.Dispose();
        _collector?.Stop();
    }

    [Benchmark]
    public string? Request()
    {
        var telemetry = new RequestTelemetry(Stopwatch.GetTimestamp()) { UserAgent = "GitHubCopilotChat/0.31.0", ClientModel = "qwen/qwen3-8b:latest" };
        var server = RequestTracing.StartServer(_context.Request, telemetry);
        var attempt = RequestTracing.StartAttempt("v1/chat/completions", "qwen/qwen3-8b", Upstream, 1);
        var traceParent = RequestTracing.TraceParentFor(attempt, telemetry);
        telemetry.UpstreamModel = "qwen/qwen3-8b";
        telemetry.Record(null, "stop", 1136, 30);
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

    private static async Task AnswerAsync(HttpListener listener)
    {
        while (listener.IsListening)
        {
            try
            {
                var context = await listener.GetContextAsync();
                await context.Request.InputStream.CopyToAsync(Stream.Null);
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
            catch (HttpListenerException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
