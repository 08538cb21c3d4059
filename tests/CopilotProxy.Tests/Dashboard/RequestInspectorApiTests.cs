using System.Net;
using System.Text.Json;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Dashboard;

/// <summary>GET /ui/api/requests/{id}: what a person sees when they open one request in the dashboard.</summary>
public sealed class RequestInspectorApiTests
{
    private static async Task<(int Status, JsonElement Body)> InspectAsync(ProxyFixture proxy, long id, string? key = InspectorScenario.Key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/ui/api/requests/{id}");
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }

        using var response = await proxy.Gateway.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task ARepairedToolCallAfterARetry_ShowsTimingChangesAndAllFourBodies_WithoutTheKey()
    {
        await using var proxy = await InspectorScenario.StartProxyAsync();
        await InspectorScenario.RunAsync(proxy);
        var id = await InspectorScenario.LastRequestIdAsync(proxy);

        var (unauthorized, _) = await InspectAsync(proxy, id, key: null);
        Assert.Equal(401, unauthorized);
        var (status, body) = await InspectAsync(proxy, id);
        Assert.Equal(200, status);
        var raw = body.GetRawText();
        Assert.DoesNotContain(InspectorScenario.Key, raw, StringComparison.Ordinal);

        var request = body.GetProperty("request");
        Assert.Equal("/v1/chat/completions", request.GetProperty("route").GetString());
        Assert.Equal(InspectorScenario.UserAgent + " (VS Code)", request.GetProperty("userAgent").GetString());
        Assert.Equal("agent", request.GetProperty("initiator").GetString());
        Assert.Equal(InspectorScenario.ClientModel, request.GetProperty("clientModel").GetString());
        Assert.Equal(InspectorScenario.UpstreamModel, request.GetProperty("upstreamModel").GetString());
        Assert.StartsWith(proxy.Upstream.BaseUrl.ToString(), request.GetProperty("upstreamUrl").GetString(), StringComparison.Ordinal);
        Assert.Equal("tool_calls", request.GetProperty("finishReason").GetString());

        // The moments in the order they happen; no model load and no queue here.
        var timing = request.GetProperty("timing");
        var sent = timing.GetProperty("upstreamSentMs").GetDouble();
        var headers = timing.GetProperty("upstreamHeadersMs").GetDouble();
        var first = timing.GetProperty("firstTokenMs").GetDouble();
        var last = timing.GetProperty("lastTokenMs").GetDouble();
        Assert.True(0 <= sent && sent <= headers && headers <= first && first <= last && last <= timing.GetProperty("totalMs").GetDouble(), timing.GetRawText());
        Assert.Equal(JsonValueKind.Null, timing.GetProperty("modelLoadMs").ValueKind);
        Assert.Equal(JsonValueKind.Null, timing.GetProperty("queueWaitMs").ValueKind);

        var changes = request.GetProperty("changes").EnumerateArray().ToList();
        Assert.Equal(["ModelRenamed", "Retry", "ToolCallsRepaired"], changes.Select(c => c.GetProperty("kind").GetString()));
        Assert.Contains("503", changes[1].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("hermes", changes[2].GetProperty("format").GetString());
        Assert.Equal(1, changes[2].GetProperty("count").GetInt32());

        var capture = body.GetProperty("capture");
        var received = capture.GetProperty("received").GetString()!;
        Assert.Contains("Weather in Zürich?", received, StringComparison.Ordinal);
        Assert.Contains("[image/png, 3000 bytes elided]", received, StringComparison.Ordinal);
        Assert.DoesNotContain("AAAAAAAA", received, StringComparison.Ordinal);
        Assert.Contains($"\"model\":\"{InspectorScenario.UpstreamModel}\"", capture.GetProperty("sentUpstream").GetString(), StringComparison.Ordinal);
        // As written: the tool call is still text, split over the stream's deltas; as received: a structured call.
        var upstream = capture.GetProperty("upstreamAnswer").GetString()!;
        Assert.Contains("tool_call", upstream, StringComparison.Ordinal);
        Assert.DoesNotContain("\"tool_calls\"", upstream, StringComparison.Ordinal);
        var client = capture.GetProperty("clientAnswer").GetString()!;
        Assert.Contains("\"tool_calls\"", client, StringComparison.Ordinal);
        Assert.Contains("get_weather", client, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReasoningWrittenAsText_IsAChangeWithItsForm_BeforeTheRepairedCallAfterIt()
    {
        await using var proxy = await InspectorScenario.StartProxyAsync(s => s with { ReasoningTags = true });
        proxy.Upstream.DefaultReply = "<think>The user wants the weather.</think>\n\n" + InspectorScenario.Reply;
        await InspectorScenario.RunAsync(proxy);

        var (status, body) = await InspectAsync(proxy, await InspectorScenario.LastRequestIdAsync(proxy));
        Assert.Equal(200, status);
        var changes = body.GetProperty("request").GetProperty("changes").EnumerateArray().ToList();
        Assert.Equal(["ModelRenamed", "Retry", "ToolCallsRepaired", "ReasoningMoved"], changes.Select(c => c.GetProperty("kind").GetString()));
        var moved = changes[3];
        Assert.Equal("think", moved.GetProperty("format").GetString());
        Assert.Contains("think", moved.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutCaptureBodies_TheRequestIsInspectable_AndSaysHowToSeeItsBodies()
    {
        await using var proxy = await InspectorScenario.StartProxyAsync(s => s with { CaptureBodies = false });
        await InspectorScenario.RunAsync(proxy);
        var id = await InspectorScenario.LastRequestIdAsync(proxy);

        var (status, body) = await InspectAsync(proxy, id);
        Assert.Equal(200, status);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("capture").ValueKind);
        Assert.False(body.GetProperty("captureBodies").GetBoolean());
        Assert.Equal(3, body.GetProperty("request").GetProperty("changes").GetArrayLength());

        var (missing, error) = await InspectAsync(proxy, id + 1000);
        Assert.Equal(404, missing);
        Assert.Contains("last 200", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedRequest_ShowsItsFailureClassAndTheMessageThatSaysWhatToDo()
    {
        await using var proxy = await InspectorScenario.StartProxyAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(500, "image input is not supported"));
        using var request = ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(InspectorScenario.UpstreamModel, stream: false));
        using (await proxy.Ollama.SendAsync(request))
        {
        }

        var (status, body) = await InspectAsync(proxy, await InspectorScenario.LastRequestIdAsync(proxy));
        Assert.Equal(200, status);
        var inspected = body.GetProperty("request");
        Assert.Equal(502, inspected.GetProperty("status").GetInt32());
        Assert.Equal("status", inspected.GetProperty("failure").GetString());
        Assert.Contains("image input is not supported", inspected.GetProperty("failureMessage").GetString(), StringComparison.Ordinal);
        Assert.Empty(inspected.GetProperty("changes").EnumerateArray());
    }

    [Fact]
    public async Task CaptureLimit_KeepsOnlyTheLastRequestsBodies()
    {
        await using var proxy = await InspectorScenario.StartProxyAsync(s => s with { CaptureLimit = 1 });
        await InspectorScenario.RunAsync(proxy);
        var first = await InspectorScenario.LastRequestIdAsync(proxy);
        await InspectorScenario.RunAsync(proxy);
        var second = await InspectorScenario.LastRequestIdAsync(proxy, count: 2);

        var (_, old) = await InspectAsync(proxy, first);
        var (_, recent) = await InspectAsync(proxy, second);
        Assert.Equal(JsonValueKind.Null, old.GetProperty("capture").ValueKind);
        Assert.Equal(JsonValueKind.Object, recent.GetProperty("capture").ValueKind);
    }
}
