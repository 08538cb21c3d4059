using CopilotProxy.Tests.Dashboard;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Telemetry;

/// <summary>
/// OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on: the OpenTelemetry SDK's OTLP exporter sends the proxy's spans, over gRPC
/// or http/protobuf, to a collector (here one in process) as Jaeger, Tempo or Langfuse would receive them.
/// </summary>
public sealed class TracingTests
{
    private static async Task<(IReadOnlyList<OtlpSpan> Trace, ProxyFixture Proxy)> TraceScenarioAsync(OtlpReceiver receiver, string protocol, bool content)
    {
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var variables = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Url.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol,
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        };
        if (content)
        {
            variables["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true";
        }

        var proxy = await InspectorScenario.StartProxyAsync(s => s with { CaptureBodies = false, OpenTelemetry = variables });
        await InspectorScenario.RunAsync(proxy, InspectorScenario.TraceParent(traceId));
        var trace = await receiver.WaitForTraceAsync(traceId, spans => spans.Any(s => s.Kind == OtlpSpan.KindServer) && spans.Count(s => s.Kind == OtlpSpan.KindClient) == 2);
        return (trace, proxy);
    }

    [Theory]
    [InlineData("grpc")]
    [InlineData("http/protobuf")]
    public async Task ARepairedToolCallAfterARetry_IsOneServerSpanWithTwoSiblingAttempts_InTheGenAIConventions(string protocol)
    {
        await using var receiver = await OtlpReceiver.StartAsync(grpc: protocol == "grpc");
        var (trace, proxy) = await TraceScenarioAsync(receiver, protocol, content: false);
        await using var _ = proxy;

        Assert.True(trace.Count == 3, OtlpTrace.Tree(trace));
        if (Environment.GetEnvironmentVariable("COPILOT_PROXY_PRINT_TRACE") is { Length: > 0 } file)
        {
            await File.WriteAllTextAsync(file, OtlpTrace.Tree(trace), TestContext.Current.CancellationToken);
        }

        var server = Assert.Single(trace, s => s.Kind == OtlpSpan.KindServer);
        Assert.Equal("copilot-proxy", server.ServiceName);
        Assert.Equal("POST /v1/chat/completions", server.Name);
        // The client's traceparent is the parent: Copilot's (or any caller's) trace continues through the proxy.
        Assert.Equal("00f067aa0ba902b7", server.ParentSpanId);
        Assert.Equal(200L, server["http.response.status_code"]);
        Assert.Equal("chat", server["gen_ai.operation.name"]);
        Assert.Equal(InspectorScenario.ClientModel, server["gen_ai.request.model"]);
        Assert.Contains(server.Events, e => e.Name == "copilot_proxy.change" && (string)e.Attributes["copilot_proxy.change.kind"] == "ToolCallsRepaired");
        Assert.DoesNotContain(server.Events, e => e.Name.StartsWith("gen_ai.content", StringComparison.Ordinal));

        var attempts = trace.Where(s => s.Kind == OtlpSpan.KindClient).OrderBy(s => (long)s["copilot_proxy.attempt"]!).ToList();
        Assert.All(attempts, a => Assert.Equal(server.SpanId, a.ParentSpanId));
        Assert.All(attempts, a => Assert.Equal("chat " + InspectorScenario.UpstreamModel, a.Name));
        Assert.Equal(503L, attempts[0]["http.response.status_code"]);
        Assert.Equal(OtlpSpan.StatusError, attempts[0].StatusCode);

        var chat = attempts[1];
        Assert.Equal("chat", chat["gen_ai.operation.name"]);
        Assert.Equal("openai", chat["gen_ai.system"]);
        Assert.Equal(InspectorScenario.UpstreamModel, chat["gen_ai.request.model"]);
        Assert.Equal(InspectorScenario.UpstreamModel, chat["gen_ai.response.model"]);
        Assert.IsType<long>(chat["gen_ai.usage.input_tokens"]);
        Assert.IsType<long>(chat["gen_ai.usage.output_tokens"]);
        Assert.Equal(["tool_calls"], (string[])chat["gen_ai.response.finish_reasons"]!);
        Assert.Equal(proxy.Upstream.BaseUrl.Host, chat["server.address"]);
        Assert.Equal((long)proxy.Upstream.BaseUrl.Port, chat["server.port"]);
        Assert.NotEqual(OtlpSpan.StatusError, chat.StatusCode);

        // Each attempt told LM Studio its own span, in the same trace.
        var sent = proxy.UpstreamRequests("/v1/chat/completions").TakeLast(2).Select(r => r.Headers["traceparent"]).ToList();
        Assert.Equal(attempts.Select(a => $"00-{a.TraceId}-{a.SpanId}-01"), sent);
    }

    [Fact]
    public async Task MessageContent_GoesOnSpanEventsOnlyWhenAskedFor_Redacted()
    {
        await using var receiver = await OtlpReceiver.StartAsync(grpc: false);
        var (trace, proxy) = await TraceScenarioAsync(receiver, "http/protobuf", content: true);
        await using var _ = proxy;

        var server = Assert.Single(trace, s => s.Kind == OtlpSpan.KindServer);
        var prompt = (string)Assert.Single(server.Events, e => e.Name == "gen_ai.content.prompt").Attributes["gen_ai.prompt"];
        var completion = (string)Assert.Single(server.Events, e => e.Name == "gen_ai.content.completion").Attributes["gen_ai.completion"];
        Assert.Contains("Weather in Zürich?", prompt, StringComparison.Ordinal);
        Assert.DoesNotContain(InspectorScenario.Key, prompt, StringComparison.Ordinal);
        Assert.Contains("get_weather", completion, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAnEndpoint_TheClientsTraceStillReachesTheUpstream()
    {
        await using var proxy = await InspectorScenario.StartProxyAsync(s => s with { CaptureBodies = false });
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        await InspectorScenario.RunAsync(proxy, InspectorScenario.TraceParent(traceId));

        // The client's traceparent as it came, or (when another test's tracer listens in this process) a child span of it.
        Assert.All(proxy.UpstreamRequests("/v1/chat/completions"), r => Assert.StartsWith($"00-{traceId}-", r.Headers["traceparent"], StringComparison.Ordinal));
    }
}
