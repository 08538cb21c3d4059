using System.Net;
using System.Text.Json;
using CopilotProxy.Telemetry;
using CopilotProxy.Tests.Dashboard;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;
using static CopilotProxy.Tests.Keys.KeyClient;

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

    [Fact]
    public async Task ARequestThatWaitedForASlot_HasAQueueSpan_TheOneThatGotASlotAtOnceHasNone()
    {
        await using var receiver = await OtlpReceiver.StartAsync(grpc: false);
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(InspectorScenario.UpstreamModel, loadedContextLength: 16384));
        // Slow enough that the second request surely finds the one slot taken.
        upstream.Responder = r => r.Path == "/v1/chat/completions"
            ? FakeResponse.Sse(LmStudioStreams.Text(InspectorScenario.UpstreamModel, "one", " two", " three"), TimeSpan.FromMilliseconds(150))
            : null;
        var config = GatewayHarness.Config($"""
            model_list:
              - model_name: {InspectorScenario.UpstreamModel}
                litellm_params:
                  model: openai/{InspectorScenario.UpstreamModel}
                  api_base: {upstream.BaseUrl}v1
                  max_parallel_requests: 1
            """);
        var variables = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Url.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        };
        await using var proxy = await ProxyFixture.StartAsync(upstream, s => s with { ApiKey = Master, OpenTelemetry = variables }, config);
        var key = await GenerateAsync(proxy.Gateway, """{"key_alias":"team-a"}""");
        var (first, second) = (Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()), Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()));

        var running = ChatAsync(proxy, key, first);
        for (var i = 0; i < 200 && proxy.UpstreamRequests("/v1/chat/completions").Count == 0; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        var queued = ChatAsync(proxy, key, second);
        Assert.All(await Task.WhenAll(running, queued), status => Assert.Equal(HttpStatusCode.OK, status));

        static bool Complete(IReadOnlyList<OtlpSpan> spans) => spans.Any(s => s.Kind == OtlpSpan.KindServer) && spans.Any(s => s.Kind == OtlpSpan.KindClient);
        var tookSlot = await receiver.WaitForTraceAsync(first, Complete);
        var waited = await receiver.WaitForTraceAsync(second, spans => Complete(spans) && spans.Any(s => s.Name.StartsWith("queue ", StringComparison.Ordinal)));
        Assert.True(Complete(tookSlot), OtlpTrace.Tree(tookSlot));
        Assert.DoesNotContain(tookSlot, s => s.Name.StartsWith("queue ", StringComparison.Ordinal));

        if (Environment.GetEnvironmentVariable("COPILOT_PROXY_PRINT_TRACE") is { Length: > 0 } file)
        {
            await File.WriteAllTextAsync(file + ".queue", OtlpTrace.Tree(waited), TestContext.Current.CancellationToken);
        }

        var server = Assert.Single(waited, s => s.Kind == OtlpSpan.KindServer);
        var queue = Assert.Single(waited, s => s.Name == "queue " + InspectorScenario.UpstreamModel);
        Assert.Equal(server.SpanId, queue.ParentSpanId);
        Assert.Equal(InspectorScenario.UpstreamModel, queue["gen_ai.request.model"]);
        // The key's label, never its hash: the hash identifies the key.
        Assert.Equal("team-a", queue["copilot_proxy.queue.turn"]);
        Assert.Equal(1L, queue["copilot_proxy.queue.capacity"]);
        Assert.Equal(1L, queue["copilot_proxy.queue.depth"]);
        // It waited for most of the first request's answer (four events 150 ms apart).
        var waitMs = Assert.IsType<double>(queue["copilot_proxy.queue.wait_ms"]);
        Assert.InRange(waitMs, 100, 20_000);
        Assert.Equal(server.SpanId, Assert.Single(waited, s => s.Kind == OtlpSpan.KindClient).ParentSpanId);

        // The inspector's timing shows the same wait, and none for the request that got the slot at once.
        var traffic = proxy.App.Services.GetRequiredService<LiveTraffic>();
        var inspected = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var request in traffic.Recent().Where(r => r.Route == "/v1/chat/completions"))
        {
            var (_, body) = await SendAsync(proxy.Gateway, HttpMethod.Get, $"/ui/api/requests/{request.Id}", Master);
            using var json = JsonDocument.Parse(body!.ToJsonString());
            var detail = json.RootElement.GetProperty("request").Clone();
            inspected[detail.GetProperty("traceId").GetString()!] = detail.GetProperty("timing");
        }

        Assert.Equal(JsonValueKind.Null, inspected[first].GetProperty("queueWaitMs").ValueKind);
        Assert.InRange(inspected[second].GetProperty("queueWaitMs").GetDouble(), waitMs - 1, waitMs + 1);
        Assert.True(inspected[second].GetProperty("upstreamSentMs").GetDouble() >= waitMs, inspected[second].GetRawText());
    }

    private static async Task<HttpStatusCode> ChatAsync(ProxyFixture proxy, string key, string traceId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{InspectorScenario.UpstreamModel}}","stream":true,"messages":[{"role":"user","content":"hi"}]}""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        request.Headers.TryAddWithoutValidation("traceparent", InspectorScenario.TraceParent(traceId));
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Gateway, request);
        await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return response.StatusCode;
    }
}
