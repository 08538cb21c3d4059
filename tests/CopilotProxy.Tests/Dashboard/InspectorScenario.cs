using System.Net;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Dashboard;

/// <summary>
/// The request the inspector and tracing tests look at: Copilot's chat through the Ollama front door, for a model name that
/// goes upstream under another, with a key in the body; LM Studio is busy once (503, retried) and then writes a tool
/// call as Qwen's <c>&lt;tool_call&gt;</c> text, which the proxy repairs.
/// </summary>
internal static class InspectorScenario
{
    public const string UpstreamModel = "qwen/qwen3-8b";
    public const string ClientModel = "qwen/qwen3-8b:latest";
    public const string Key = "sk-inspector-key-5a7b9c1d3e";
    public const string Reply = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}\n</tool_call>";
    public const string UserAgent = "GitHubCopilotChat/0.31.0";

    /// <summary>The client's trace: its traceparent names this trace id, so a test finds the spans of this request among others'.</summary>
    public static string TraceParent(string traceId) => $"00-{traceId}-00f067aa0ba902b7-01";

    /// <summary>A body that carries the key where a careless client might (a field, a message), and a small image.</summary>
    public static string Body => $$$"""
        {"model":"{{{ClientModel}}}","api_key":"{{{Key}}}","messages":[{"role":"system","content":"You are Copilot."},
        {"role":"user","content":[{"type":"text","text":"Weather in Zürich? my key is {{{Key}}}"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{new string('A', 4000)}}}"}}]}],
        "stream":true,"stream_options":{"include_usage":true},"tools":[{{{CopilotRequests.WeatherTool}}}]}
        """;

    public static async Task<ProxyFixture> StartProxyAsync(Func<ProxySettings, ProxySettings>? configure = null)
    {
        var proxy = await ProxyFixture.StartAsync(configure: s => (configure ?? (x => x))(s with { CaptureBodies = true, ApiKey = Key }));
        proxy.Upstream.DefaultReply = Reply;
        proxy.Upstream.ReplyTokenizer = text => LmStudioTokens.Split(text, specialTokens: true);
        return proxy;
    }

    /// <summary>Sends the request as Copilot does and returns the tool call it got; the upstream answers 503 first.</summary>
    public static async Task<CopilotTurn> RunAsync(ProxyFixture proxy, string? traceParent = null)
    {
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(503, "busy loading another model"));
        using var request = ProxyFixture.CopilotPost("v1/chat/completions", Body);
        request.Headers.UserAgent.ParseAdd(UserAgent + " (VS Code)");
        request.Headers.TryAddWithoutValidation("X-Initiator", "agent");
        if (traceParent is not null)
        {
            request.Headers.TryAddWithoutValidation("traceparent", traceParent);
        }

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var turn = await CopilotSseParser.ParseAsync(response, TestContext.Current.CancellationToken);
        Assert.Equal("get_weather", Assert.Single(turn.ToolCalls).Name);
        return turn;
    }

    /// <summary>
    /// The id the dashboard gives the newest request, once <paramref name="count"/> requests have finished: the client has
    /// its answer a moment before the proxy files the request away.
    /// </summary>
    public static async Task<long> LastRequestIdAsync(ProxyFixture proxy, int count = 1)
    {
        for (var tries = 0; ; tries++)
        {
            using var state = new HttpRequestMessage(HttpMethod.Get, "/ui/api/state");
            state.Headers.Authorization = new("Bearer", Key);
            using var response = await proxy.Gateway.SendAsync(state);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var recent = json.RootElement.GetProperty("traffic").GetProperty("recent").EnumerateArray().ToList();
            if (recent.Count >= count || tries == 100)
            {
                Assert.Equal(count, recent.Count);
                return recent[^1].GetProperty("id").GetInt64();
            }

            await Task.Delay(50);
        }
    }
}
