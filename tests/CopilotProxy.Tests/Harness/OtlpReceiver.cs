using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace CopilotProxy.Tests.Harness;

/// <summary>One span as an OTLP collector receives it, attribute values as strings, longs, doubles, booleans or string arrays.</summary>
public sealed record OtlpSpan(string ServiceName, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind,
    IReadOnlyDictionary<string, object> Attributes, IReadOnlyList<OtlpEvent> Events, int StatusCode, string StatusMessage)
{
    public const int KindServer = 2;
    public const int KindClient = 3;
    public const int StatusError = 2;

    public object? this[string attribute] => Attributes.GetValueOrDefault(attribute);
}

/// <summary>A trace as an indented tree, for failure messages: each span's name, kind and attributes under its parent.</summary>
public static class OtlpTrace
{
    public static string Tree(IReadOnlyList<OtlpSpan> trace)
    {
        var text = new System.Text.StringBuilder();
        void Write(OtlpSpan span, int depth)
        {
            text.Append(' ', depth * 2).Append(span.Name).Append(" [").Append(span.Kind switch { OtlpSpan.KindServer => "server", OtlpSpan.KindClient => "client", _ => "internal" })
                .Append(span.StatusCode == OtlpSpan.StatusError ? ", error" : "").Append("] ")
                .AppendJoin(", ", span.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => a.Key + "=" + (a.Value is string[] list ? "[" + string.Join(",", list) + "]" : a.Value)))
                .Append('\n');
            foreach (var e in span.Events)
            {
                text.Append(' ', depth * 2 + 2).Append("event ").Append(e.Name).Append(' ').AppendJoin(", ", e.Attributes.Select(a => a.Key + "=" + a.Value)).Append('\n');
            }

            foreach (var child in trace.Where(s => s.ParentSpanId == span.SpanId))
            {
                Write(child, depth + 1);
            }
        }

        foreach (var root in trace.Where(s => trace.All(p => p.SpanId != s.ParentSpanId)))
        {
            Write(root, 0);
        }

        return text.ToString();
    }
}

public sealed record OtlpEvent(string Name, IReadOnlyDictionary<string, object> Attributes);

/// <summary>
/// An OTLP trace collector on 127.0.0.1:0, in process: <c>POST /v1/traces</c> for http/protobuf over HTTP/1.1, or the
/// gRPC <c>TraceService/Export</c> over cleartext HTTP/2 (prior knowledge, as the exporter speaks it to an http:// URL).
/// It decodes what arrives with Google.Protobuf's reader, field by field per opentelemetry-proto's trace.proto.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<OtlpSpan> _spans = new();
    private WebApplication? _app;

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<OtlpSpan> Spans => [.. _spans];

    public static async Task<OtlpReceiver> StartAsync(bool grpc)
    {
        var receiver = new OtlpReceiver();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = grpc ? HttpProtocols.Http2 : HttpProtocols.Http1));
        var app = builder.Build();
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        receiver._app = app;
        receiver.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        return receiver;
    }

    /// <summary>Waits until the spans of <paramref name="traceId"/> satisfy <paramref name="complete"/> (exports are batched).</summary>
    public async Task<IReadOnlyList<OtlpSpan>> WaitForTraceAsync(string traceId, Func<IReadOnlyList<OtlpSpan>, bool> complete)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var trace = Spans.Where(s => s.TraceId == traceId).ToList();
            if (complete(trace) || DateTime.UtcNow > deadline)
            {
                return trace;
            }

            await Task.Delay(50);
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        if (context.Request.Path == "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        {
            // gRPC framing: a compressed flag, a big-endian length, the message.
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1, 4));
            Read(bytes.AsSpan(5, length).ToArray());
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(new byte[5]);
            context.Response.AppendTrailer("grpc-status", "0");
            return;
        }

        if (context.Request.Path == "/v1/traces")
        {
            Read(bytes);
            context.Response.ContentType = "application/x-protobuf";
            return;
        }

        context.Response.StatusCode = 404;
    }

    private void Read(byte[] export)
    {
        foreach (var resourceSpans in Messages(export, 1))
        {
            var service = Messages(resourceSpans, 1).SelectMany(r => Messages(r, 1)).Select(KeyValue).FirstOrDefault(kv => kv.Key == "service.name").Value as string ?? "";
            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                foreach (var span in Messages(scopeSpans, 2))
                {
                    _spans.Enqueue(Span(service, span));
                }
            }
        }
    }

    private static OtlpSpan Span(string service, byte[] bytes)
    {
        string traceId = "", spanId = "", parent = "", name = "", statusMessage = "";
        int kind = 0, statusCode = 0;
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
        var events = new List<OtlpEvent>();
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: traceId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 2: spanId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 4: parent = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                case 5: name = input.ReadString(); break;
                case 6: kind = input.ReadEnum(); break;
                case 9:
                    var (key, value) = KeyValue(input.ReadBytes().ToByteArray());
                    attributes[key] = value;
                    break;
                case 11: events.Add(Event(input.ReadBytes().ToByteArray())); break;
                case 15:
                    var status = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint statusTag;
                    while ((statusTag = status.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(statusTag))
                        {
                            case 2: statusMessage = status.ReadString(); break;
                            case 3: statusCode = status.ReadEnum(); break;
                            default: status.SkipLastField(); break;
                        }
                    }

                    break;
                default: input.SkipLastField(); break;
            }
        }

        return new OtlpSpan(service, traceId, spanId, parent, name, kind, attributes, events, statusCode, statusMessage);
    }

    private static OtlpEvent Event(byte[] bytes)
    {
        var name = "";
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 2: name = input.ReadString(); break;
                case 3:
                    var (key, value) = KeyValue(input.ReadBytes().ToByteArray());
                    attributes[key] = value;
                    break;
                default: input.SkipLastField(); break;
            }
        }

        return new OtlpEvent(name, attributes);
    }

    private static KeyValuePair<string, object> KeyValue(byte[] bytes)
    {
        var key = "";
        object value = "";
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: key = input.ReadString(); break;
                case 2: value = AnyValue(input.ReadBytes().ToByteArray()); break;
                default: input.SkipLastField(); break;
            }
        }

        return new(key, value);
    }

    private static object AnyValue(byte[] bytes)
    {
        var input = new CodedInputStream(bytes);
        var tag = input.ReadTag();
        return WireFormat.GetTagFieldNumber(tag) switch
        {
            1 => input.ReadString(),
            2 => input.ReadBool(),
            3 => input.ReadInt64(),
            4 => input.ReadDouble(),
            5 => Messages(input.ReadBytes().ToByteArray(), 1).Select(v => AnyValue(v).ToString()!).ToArray(),
            _ => "",
        };
    }

    /// <summary>The embedded messages (or bytes) of one repeated field.</summary>
    private static List<byte[]> Messages(byte[] bytes, int field)
    {
        var found = new List<byte[]>();
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
