using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Ollama.OllamaFixture;

namespace CopilotProxy.Tests.Clients;

/// <summary>
/// The official Ollama VS Code extension's request sequence (ollama/ollama-vscode v0.0.8, protocol.md §8.2), replayed
/// against the real proxy: discovery, a streamed agent turn with a tool call and its result, <c>/api/ps</c> polled while
/// the chat starts, errors and cancellation. Each check reads the answer the way the extension does.
/// </summary>
public sealed partial class OllamaExtensionReplayTests
{
    private const string OllamaJsUserAgent = "ollama-js/0.6.3 (x64 linux Node.js/v22.15.0)";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Discovery_VersionTagsRecommendationsThenShowForEveryModelAtOnce_GivesToolsVisionAndContext()
    {
        await using var proxy = await StartAsync();
        using var client = ExtensionClient(proxy);

        var version = JsonNode.Parse(await client.GetStringAsync("/api/version", Ct))!;
        var tags = JsonNode.Parse(await client.GetStringAsync("/api/tags", Ct))!["models"]!.AsArray();
        using var recommendationsRequest = new HttpRequestMessage(HttpMethod.Get, "/api/experimental/model-recommendations");
        recommendationsRequest.Headers.Accept.ParseAdd("application/json");
        using var recommendations = await client.SendAsync(recommendationsRequest, Ct);
        var recommendationsBody = JsonNode.Parse(await recommendations.Content.ReadAsStringAsync(Ct))!;
        var upstreamCallsBeforeRecommendations = proxy.Upstream.Requests.Count;

        // The extension hydrates every listed model in parallel (Promise.all over /api/show with verbose:false).
        var names = tags.Select(m => (string)m!["model"]!).ToList();
        var shows = await Task.WhenAll(names.Select(async name =>
        {
            using var response = await client.PostAsync("/api/show", Json($$"""{"model":"{{name}}","verbose":false}"""), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();
        }));

        Assert.False(string.IsNullOrEmpty((string?)version["version"]));
        Assert.Equal(HttpStatusCode.OK, recommendations.StatusCode);
        Assert.Empty(recommendationsBody["recommendations"]!.AsArray());
        Assert.Equal(upstreamCallsBeforeRecommendations, proxy.Upstream.Requests.Count);
        Assert.Equal([$"{Qwen}:latest", $"{Gemma}:latest", $"{Nomic}:latest"], names);
        var byName = names.Zip(shows).ToDictionary(p => p.First, p => p.Second);
        foreach (var show in shows)
        {
            // A null entry makes the extension's toLowerCase throw and drops the whole model list.
            var capabilities = show["capabilities"]!.AsArray();
            Assert.All(capabilities, c => Assert.Equal(System.Text.Json.JsonValueKind.String, c!.GetValueKind()));
        }

        var qwen = byName[$"{Qwen}:latest"];
        Assert.Contains("tools", Capabilities(qwen));
        Assert.Contains("vision", Capabilities(qwen));
        Assert.Equal(16384, ContextWindow(qwen));
        Assert.DoesNotContain("tools", Capabilities(byName[$"{Gemma}:latest"]));
        Assert.Equal(["embedding"], Capabilities(byName[$"{Nomic}:latest"]));
    }

    [Fact]
    public async Task AgentTurn_StreamsAToolCallWithItsId_ThenTheToolResultReachesTheUpstreamWithThatId_WhilePsIsPolled()
    {
        await using var proxy = await StartAsync();
        using var client = ExtensionClient(proxy);
        proxy.Upstream.Enqueue(FakeResponse.Sse(
            LmStudioStreams.ToolCalls(Qwen, new FakeToolCall("read_file", """{"path":"src/app.ts"}""") { Id = "812345678" }).Usage(40, 12),
            delayBetween: TimeSpan.FromMilliseconds(40)));

        using var chat = new HttpRequestMessage(HttpMethod.Post, "/api/chat")
        {
            Content = Json($$$"""
                {"model":"{{{Qwen}}}:latest","messages":[{"role":"system","content":"You are an agent."},{"role":"user","content":"Open app.ts"}],
                 "stream":true,"tools":[{{{ReadFileTool}}}],"options":{"temperature":0.2}}
                """),
        };
        var chatTask = client.SendAsync(chat, HttpCompletionOption.ResponseHeadersRead, Ct);
        var polls = new List<JsonNode>();
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var pollTask = PollPsAsync(client, polls, polling.Token);
        using var response = await chatTask;
        var lines = ParseLines(await response.Content.ReadAsStringAsync(Ct));
        await polling.CancelAsync();
        await pollTask;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var calls = lines.SelectMany(l => l["message"]?["tool_calls"]?.AsArray() ?? []).ToList();
        var call = Assert.Single(calls);
        Assert.Equal("812345678", (string?)call!["id"]);
        Assert.Equal("read_file", (string?)call["function"]!["name"]);
        Assert.Equal("src/app.ts", (string?)call["function"]!["arguments"]!["path"]);
        Assert.True((bool?)lines[^1]["done"]);
        Assert.Equal(40, (int?)lines[^1]["prompt_eval_count"]);
        Assert.Equal(12, (int?)lines[^1]["eval_count"]);
        Assert.NotEmpty(polls);
        Assert.All(polls, p => Assert.Equal(16384, (int?)p["models"]!.AsArray().Single(m => (string?)m!["model"] == $"{Qwen}:latest")!["context_length"]));

        // The next turn carries the call and its result, linked by tool_call_id, as the extension's converter writes them.
        var (followUp, _) = await PostAsync(client, "/api/chat", $$$$"""
            {"model":"{{{{Qwen}}}}:latest","stream":true,"tools":[{{{{ReadFileTool}}}}],"messages":[
              {"role":"user","content":"Open app.ts"},
              {"role":"assistant","content":"","tool_calls":[{"id":"812345678","function":{"name":"read_file","arguments":{"path":"src/app.ts"}}}]},
              {"role":"tool","content":"export const x = 1;","tool_call_id":"812345678"}]}
            """);

        Assert.Equal(HttpStatusCode.OK, followUp);
        var sent = proxy.LastUpstreamBody("/v1/chat/completions")["messages"]!.AsArray();
        Assert.Equal("812345678", (string?)sent[1]!["tool_calls"]![0]!["id"]);
        Assert.Equal("""{"path":"src/app.ts"}""", (string?)sent[1]!["tool_calls"]![0]!["function"]!["arguments"]);
        Assert.Equal("tool", (string?)sent[2]!["role"]);
        Assert.Equal("812345678", (string?)sent[2]!["tool_call_id"]);
    }

    [Fact]
    public async Task Errors_AreStrings_BeforeAndAfterTheStreamStarted()
    {
        await using var proxy = await StartAsync();
        using var client = ExtensionClient(proxy);

        var (unknownStatus, unknownBody) = await PostAsync(client, "/api/chat", """{"model":"no-such-model:latest","messages":[{"role":"user","content":"hi"}],"stream":true}""");
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Qwen, "Half", " an", " answer"), dropAfter: 2));
        var (brokenStatus, brokenBody) = await PostAsync(client, "/api/chat", $$"""{"model":"{{Qwen}}:latest","messages":[{"role":"user","content":"hi"}],"stream":true}""");

        // The extension shows `error` as it is: an object would read "[object Object]".
        Assert.Equal(HttpStatusCode.NotFound, unknownStatus);
        var unknownError = JsonNode.Parse(unknownBody)!["error"]!;
        Assert.Equal(System.Text.Json.JsonValueKind.String, unknownError.GetValueKind());
        Assert.Contains("no-such-model", (string)unknownError!, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, brokenStatus);
        var last = ParseLines(brokenBody)[^1];
        Assert.Equal(System.Text.Json.JsonValueKind.String, last["error"]!.GetValueKind());
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, (string)last["error"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StopButton_AbortsTheChat_AndTheUpstreamRequestIsCanceled()
    {
        await using var proxy = await StartAsync();
        using var client = ExtensionClient(proxy);
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Qwen, [.. Enumerable.Repeat(" word", 200)]), delayBetween: TimeSpan.FromMilliseconds(50)));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var chat = new HttpRequestMessage(HttpMethod.Post, "/api/chat") { Content = Json($$"""{"model":"{{Qwen}}:latest","messages":[{"role":"user","content":"write a lot"}],"stream":true}""") };
        using var response = await client.SendAsync(chat, HttpCompletionOption.ResponseHeadersRead, stop.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
        var first = await reader.ReadLineAsync(stop.Token);
        await stop.CancelAsync();
        response.Dispose();

        var canceled = await proxy.Upstream.NextClientDisconnectAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("/v1/chat/completions", canceled.Path);
        Assert.Equal(" word", (string?)JsonNode.Parse(first!)!["message"]!["content"]);
    }

    private const string ReadFileTool =
        """{"type":"function","function":{"name":"read_file","description":"Read a file","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}}}""";

    /// <summary>The extension's client: ollama-js over fetch, JSON bodies, its user agent.</summary>
    private static HttpClient ExtensionClient(ProxyFixture proxy)
    {
        var client = new HttpClient { BaseAddress = proxy.OllamaUrl, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(OllamaJsUserAgent);
        return client;
    }

    /// <summary>The extension's /api/ps loop while a chat starts: 25 ms, doubling up to 500 ms, until stopped.</summary>
    private static async Task PollPsAsync(HttpClient client, List<JsonNode> polls, CancellationToken stop)
    {
        var delay = 25;
        try
        {
            while (true)
            {
                var ps = JsonNode.Parse(await client.GetStringAsync("/api/ps", stop))!;
                lock (polls)
                {
                    polls.Add(ps);
                }

                await Task.Delay(delay, stop);
                delay = Math.Min(delay * 2, 500);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient client, string path, string json)
    {
        using var response = await client.PostAsync(path, Json(json), Ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
    }

    private static List<string> Capabilities(JsonObject show) => [.. show["capabilities"]!.AsArray().Select(c => (string)c!)];

    /// <summary>The extension's context lookup: <c>num_ctx</c> in <c>parameters</c> first, then <c>*.context_length</c> in <c>model_info</c>.</summary>
    private static int? ContextWindow(JsonObject show)
    {
        if ((string?)show["parameters"] is { } parameters && NumCtx().Match(parameters) is { Success: true } match)
        {
            return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        return show["model_info"]?.AsObject().Where(p => p.Key.EndsWith(".context_length", StringComparison.Ordinal)).Select(p => (int?)p.Value).FirstOrDefault();
    }

    [GeneratedRegex(@"num_ctx\s+(\d+)")]
    private static partial Regex NumCtx();
}
