using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Ollama.OllamaFixture;

namespace CopilotProxy.Tests.Ollama;

/// <summary>The native Ollama routes end to end: real proxy, real sockets, fake LM Studio with its quirks.</summary>
public class OllamaNativeApiTests
{
    private const string PngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(HttpStatusCode Status, string? ContentType, string Body)> PostAsync(ProxyFixture proxy, string path, string json)
    {
        using var response = await proxy.Ollama.PostAsync(path, Json(json), Ct);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync(Ct));
    }

    private static string ErrorOf(string body) => (string)JsonNode.Parse(body)!["error"]!;

    [Fact]
    public async Task Chat_Streaming_SendsOneNdjsonLinePerTokenAsItArrives()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Qwen, "One", " two", " three").Usage(20, 3), delayBetween: TimeSpan.FromMilliseconds(300)));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat") { Content = Json($$"""{"model":"{{Qwen}}:latest","messages":[{"role":"user","content":"count"}]}""") };
        using var response = await proxy.Ollama.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        var first = await reader.ReadLineAsync(Ct);
        var firstAt = Stopwatch.GetTimestamp();
        var rest = await reader.ReadToEndAsync(Ct);
        var gap = Stopwatch.GetElapsedTime(firstAt);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var lines = ParseLines(first + "\n" + rest);
        Assert.Equal(["One", " two", " three", ""], lines.Select(l => (string?)l["message"]!["content"]));
        Assert.All(lines, l => Assert.Equal($"{Qwen}:latest", (string?)l["model"]));
        Assert.True((bool?)lines[^1]["done"]);
        Assert.Equal(20, (int?)lines[^1]["prompt_eval_count"]);
        Assert.Equal(3, (int?)lines[^1]["eval_count"]);
        // The first token was flushed on its own: the rest came ~1 s of upstream delays later, not in the same write.
        Assert.True(gap > TimeSpan.FromMilliseconds(500), $"lines were held back: the rest came {gap.TotalMilliseconds} ms after the first");
    }

    [Fact]
    public async Task Chat_StreamFalse_AsksUpstreamToStreamAndAnswersOneObject()
    {
        await using var proxy = await StartAsync();

        var (status, contentType, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}],"stream":false}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/json", contentType);
        var answer = Assert.Single(ParseLines(body));
        Assert.Equal(proxy.Upstream.DefaultReply, (string?)answer["message"]!["content"]);
        Assert.True((bool?)answer["done"]);
        Assert.Equal("stop", (string?)answer["done_reason"]);
        Assert.NotNull(answer["eval_count"]);
        var upstream = proxy.LastUpstreamBody("/v1/chat/completions");
        Assert.True((bool?)upstream["stream"]);
        Assert.True((bool?)upstream["stream_options"]!["include_usage"]);
        Assert.Equal(Qwen, (string?)upstream["model"]);
    }

    [Fact]
    public async Task Chat_ImagesThinkingFormatAndOptions_ReachTheUpstreamTranslated()
    {
        await using var proxy = await StartAsync();

        var (status, _, _) = await PostAsync(proxy, "/api/chat", $$$"""
            {"model":"{{{Qwen}}}","stream":false,"think":"high","keep_alive":"10m",
             "format":{"type":"object","properties":{"color":{"type":"string"}},"required":["color"]},
             "options":{"num_predict":64,"temperature":0.3,"top_p":0.8,"top_k":20,"seed":7,"stop":"END","repeat_penalty":1.2,"num_ctx":32768},
             "messages":[{"role":"system","content":"Answer in JSON."},{"role":"user","content":"What color?","images":["{{{PngBase64}}}"]}]}
            """);

        Assert.Equal(HttpStatusCode.OK, status);
        var upstream = proxy.LastUpstreamBody("/v1/chat/completions");
        var parts = upstream["messages"]![1]!["content"]!.AsArray();
        Assert.Equal("What color?", (string?)parts[0]!["text"]);
        Assert.Equal("data:image/png;base64," + PngBase64, (string?)parts[1]!["image_url"]!["url"]);
        Assert.Equal("high", (string?)upstream["reasoning_effort"]);
        Assert.Equal("json_schema", (string?)upstream["response_format"]!["type"]);
        Assert.Equal("color", (string?)upstream["response_format"]!["json_schema"]!["schema"]!["required"]![0]);
        Assert.Equal(64, (int?)upstream["max_tokens"]);
        Assert.Equal(0.3, (double?)upstream["temperature"]);
        Assert.Equal(0.8, (double?)upstream["top_p"]);
        Assert.Equal(20, (int?)upstream["top_k"]);
        Assert.Equal(7, (int?)upstream["seed"]);
        Assert.Equal("END", (string?)upstream["stop"]![0]);
        Assert.Equal(1.2, (double?)upstream["repeat_penalty"]);
        Assert.Equal(600, (int?)upstream["ttl"]);
        Assert.False(upstream.ContainsKey("num_ctx"));
        Assert.False(upstream.ContainsKey("options"));
    }

    [Fact]
    public async Task Chat_UpstreamReasoning_ArrivesAsThinking()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Reasoning(Qwen, ["Let me", " think"], ["42"])));

        var (_, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"?"}],"think":true,"stream":false}""");

        var answer = ParseLines(body)[0];
        Assert.Equal("Let me think", (string?)answer["message"]!["thinking"]);
        Assert.Equal("42", (string?)answer["message"]!["content"]);
    }

    [Theory]
    [InlineData("/api/chat", "true")]
    [InlineData("/api/chat", "\"high\"")]
    [InlineData("/api/generate", "true")]
    public async Task Think_OnAModelThatCannotThink_Is400WithOllamasWording_AndNothingIsSent(string path, string think)
    {
        await using var proxy = await StartAsync();
        var input = path == "/api/chat" ? "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" : "\"prompt\":\"hi\"";

        var (status, _, body) = await PostAsync(proxy, path, $$"""{"model":"{{Gemma}}",{{input}},"think":{{think}},"stream":false}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"\"{Gemma}\" does not support thinking", ErrorOf(body));
        Assert.Equal(0, proxy.Upstream.CountOf("/v1/chat/completions") + proxy.Upstream.CountOf("/v1/completions"));
    }

    [Fact]
    public async Task ThinkFalse_OnAModelThatCannotThink_IsAnsweredAsUsual()
    {
        await using var proxy = await StartAsync();

        var (status, _, _) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Gemma}}","messages":[{"role":"user","content":"hi"}],"think":false,"stream":false}""");

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Chat_UnknownModel_Returns404InOllamaShape()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", """{"model":"llama9:70b","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model 'llama9:70b' not found", ErrorOf(body));
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "model is required")]
    [InlineData("""{"model":"","messages":[]}""", "model is required")]
    [InlineData("""{"model":"x","messages":[""", "invalid request body")]
    [InlineData("""{"model":"x","stream":"yes"}""", "invalid request body")]
    [InlineData("""{"model":"x","messages":[{"role":"user","content":42}]}""", "invalid request body at $.messages[0].content")]
    [InlineData("", "missing request body")]
    public async Task Chat_BadRequest_Returns400(string json, string error)
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(error, ErrorOf(body), StringComparison.Ordinal);
        Assert.Empty(proxy.UpstreamRequests("/v1/chat/completions"));
    }

    [Fact]
    public async Task Chat_ToolsOnAModelWithoutToolSupport_Returns400LikeOllama()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$$$$"""
            {"model":"{{{{{Gemma}}}}}","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]}
            """);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"\"{Gemma}\" does not support tools", ErrorOf(body));
    }

    [Fact]
    public async Task Chat_WithAnEmbeddingModel_Returns400()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Nomic}}","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"\"{Nomic}\" does not support chat", ErrorOf(body));
    }

    [Fact]
    public async Task Chat_UpstreamUnreachable_Returns502NamingTheUrl()
    {
        await using var proxy = await StartAsync();
        // Warm the model catalog, then take LM Studio down: the chat itself must fail to connect.
        await proxy.Ollama.GetAsync("/api/tags", Ct);
        var url = proxy.Upstream.BaseUrl;
        await proxy.Upstream.DisposeAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains(url.Authority, ErrorOf(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_UpstreamStatusError_KeepsItsStatusAndMessage()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(400, FakeLmStudio.NoModelsLoadedMessage));

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(FakeLmStudio.NoModelsLoadedMessage, ErrorOf(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_UpstreamDiesMidStream_EndsWithAnErrorLine()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Qwen, "Hal", "f", "way", "!"), dropAfter: 2));

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var lines = ParseLines(body);
        Assert.Equal(["Hal", "f"], lines.Take(2).Select(l => (string?)l["message"]!["content"]));
        Assert.Contains("LM Studio", (string?)lines[^1]["error"], StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => (bool?)l["done"] == true);
    }

    [Fact]
    public async Task Chat_UpstreamErrorEventMidStream_EndsWithAnErrorLine()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(new LmStudioSse(Qwen).Content("par").Raw("""{"error":"Model has crashed without additional information. (Exit code: null)"}""").WithoutDone()));

        var (_, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}]}""");

        var lines = ParseLines(body);
        Assert.Equal(2, lines.Count);
        Assert.Contains("Model has crashed", (string?)lines[1]["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientDisconnects_UpstreamRequestIsCanceled()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(Enumerable.Range(0, 50).Select(i => $"t{i} ").Aggregate(new LmStudioSse(Qwen), (s, t) => s.Content(t)).Finish(), delayBetween: TimeSpan.FromMilliseconds(200)));

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat") { Content = Json($$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"long story"}]}""") })
        using (var response = await proxy.Ollama.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
            Assert.NotNull(await reader.ReadLineAsync(Ct));
        }

        var canceled = await proxy.Upstream.NextClientDisconnectAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("/v1/chat/completions", canceled.Path);
    }

    [Fact]
    public async Task Chat_EmptyMessages_LoadsTheModelThroughLmStudio()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Gemma}}","messages":[]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var answer = Assert.Single(ParseLines(body));
        Assert.Equal("load", (string?)answer["done_reason"]);
        Assert.True((bool?)answer["done"]);
        Assert.True((long?)answer["load_duration"] > 0);
        Assert.Equal(Gemma, (string?)proxy.LastUpstreamBody("/api/v1/models/load")["model"]);
        Assert.Empty(proxy.UpstreamRequests("/v1/chat/completions"));
    }

    [Fact]
    public async Task Chat_EmptyMessagesForALoadedModel_DoesNotLoadASecondInstance()
    {
        await using var proxy = await StartAsync();

        var (_, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}"}""");

        Assert.Equal("load", (string?)ParseLines(body)[0]["done_reason"]);
        Assert.Empty(proxy.UpstreamRequests("/api/v1/models/load"));
    }

    [Fact]
    public async Task Chat_KeepAliveZeroWithoutMessages_UnloadsTheModel()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[],"keep_alive":0}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("unload", (string?)ParseLines(body)[0]["done_reason"]);
        Assert.Equal(Qwen, (string?)proxy.LastUpstreamBody("/api/v1/models/unload")["instance_id"]);
        Assert.False(proxy.Upstream.ModelsSnapshot().Single(m => m.Key == Qwen).IsLoaded);
    }

    [Theory]
    [InlineData("1e300")]
    [InlineData("\"99999999999h\"")]
    public async Task Chat_HugeKeepAlive_KeepsTheModelLoadedInsteadOfFailing(string keepAlive)
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}],"keep_alive":{{keepAlive}},"stream":false}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(proxy.Upstream.DefaultReply, (string?)ParseLines(body)[0]["message"]!["content"]);
        Assert.Equal(int.MaxValue, (int?)proxy.LastUpstreamBody("/v1/chat/completions")["ttl"]);
    }

    [Fact]
    public async Task Chat_KeepAliveZeroWithMessages_AnswersThenUnloads()
    {
        await using var proxy = await StartAsync();

        var (_, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}],"keep_alive":"0s","stream":false}""");

        Assert.Equal(proxy.Upstream.DefaultReply, (string?)ParseLines(body)[0]["message"]!["content"]);
        await proxy.Upstream.UnloadArrived.WaitAsync(Ct);
        var chat = proxy.UpstreamRequests("/v1/chat/completions").Single();
        var unload = proxy.UpstreamRequests("/api/v1/models/unload").Single();
        Assert.True(unload.Sequence > chat.Sequence);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Chat_KeepAliveZeroWithMessages_TheClientHasItsWholeAnswerBeforeTheUnloadEnds(bool stream)
    {
        await using var proxy = await StartAsync();
        var unloadMayEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.Upstream.UnloadGate = unloadMayEnd.Task;

        // Reading the body to its end needs the chunked terminator; the unload it must not wait for is held until then.
        // The wait bound only turns a regression into a failure, and sits well inside the fixture's 20 s upstream idle
        // timeout, which would otherwise end the held unload and, with it, the answer; it measures nothing.
        var answer = PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","messages":[{"role":"user","content":"hi"}],"keep_alive":0,"stream":{{(stream ? "true" : "false")}}}""");
        var (status, _, body) = await answer.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        unloadMayEnd.SetResult();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((bool)ParseLines(body)[^1]["done"]!);
    }

    [Fact]
    public async Task Chat_KeepAliveZeroOnAnUpstreamWithoutUnloadApi_SaysWhatToDo()
    {
        await using var proxy = await StartAsync(FakeApiLevel.V0);

        var (status, _, body) = await PostAsync(proxy, "/api/chat", $$"""{"model":"{{Qwen}}","keep_alive":0}""");

        Assert.Equal(HttpStatusCode.NotImplemented, status);
        Assert.Contains("unload", ErrorOf(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Generate_StreamsResponseLinesAndFinalStats()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Qwen, "Blue", " light").Usage(11, 2)));

        var (status, contentType, body) = await PostAsync(proxy, "/api/generate", $$"""{"model":"{{Qwen}}","prompt":"Why is the sky blue?","system":"Be brief."}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/x-ndjson", contentType);
        var lines = ParseLines(body);
        Assert.Equal(["Blue", " light", ""], lines.Select(l => (string?)l["response"]));
        Assert.Equal(2, (int?)lines[^1]["eval_count"]);
        var upstream = proxy.LastUpstreamBody("/v1/chat/completions");
        Assert.Equal("system", (string?)upstream["messages"]![0]!["role"]);
        Assert.Equal("Why is the sky blue?", (string?)upstream["messages"]![1]!["content"]);
    }

    [Fact]
    public async Task Generate_Raw_UsesCompletionsWithoutTemplate()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/generate", $$"""{"model":"{{Qwen}}","prompt":"<|im_start|>user","raw":true,"stream":false}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(proxy.Upstream.DefaultReply, (string?)ParseLines(body)[0]["response"]);
        Assert.Equal("<|im_start|>user", (string?)proxy.LastUpstreamBody("/v1/completions")["prompt"]);
    }

    [Fact]
    public async Task Generate_EmptyPrompt_LoadsTheModel()
    {
        await using var proxy = await StartAsync();

        var (_, _, body) = await PostAsync(proxy, "/api/generate", $$"""{"model":"{{Gemma}}"}""");

        var answer = ParseLines(body)[0];
        Assert.Equal("load", (string?)answer["done_reason"]);
        Assert.Equal("", (string?)answer["response"]);
        Assert.Single(proxy.UpstreamRequests("/api/v1/models/load"));
    }

    [Fact]
    public async Task Generate_Suffix_Returns400DoesNotSupportInsert()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/generate", $$"""{"model":"{{Qwen}}","prompt":"def add(","suffix":"  return c"}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal($"\"{Qwen}\" does not support insert", ErrorOf(body));
    }

    [Fact]
    public async Task Embed_ReturnsUnitVectorsInInputOrderWithCounts()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/embed", $$"""{"model":"{{Nomic}}","input":["first","second"]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var answer = JsonNode.Parse(body)!;
        Assert.Equal(Nomic, (string?)answer["model"]);
        var vectors = answer["embeddings"]!.AsArray();
        Assert.Equal(2, vectors.Count);
        foreach (var vector in vectors)
        {
            var length = Math.Sqrt(vector!.AsArray().Sum(x => Math.Pow((double)x!, 2)));
            Assert.Equal(1.0, length, 3);
        }

        Assert.True((long?)answer["total_duration"] > 0);
        Assert.True((int?)answer["prompt_eval_count"] > 0);
        var upstream = proxy.LastUpstreamBody("/v1/embeddings");
        Assert.Equal("float", (string?)upstream["encoding_format"]);
        Assert.Equal(["first", "second"], upstream["input"]!.AsArray().Select(i => (string?)i));
    }

    [Fact]
    public async Task Embeddings_Legacy_ReturnsOneVector()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/embeddings", $$"""{"model":"{{Nomic}}","prompt":"hello"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(8, JsonNode.Parse(body)!["embedding"]!.AsArray().Count);
        Assert.Equal("hello", (string?)proxy.LastUpstreamBody("/v1/embeddings")["input"]);
    }

    [Fact]
    public async Task Pull_ModelLmStudioHas_ReportsAnUpToDatePull()
    {
        await using var proxy = await StartAsync();

        var (status, contentType, body) = await PostAsync(proxy, "/api/pull", $$"""{"model":"{{Qwen}}"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/x-ndjson", contentType);
        Assert.Equal("success", (string?)ParseLines(body)[^1]["status"]);
    }

    [Fact]
    public async Task Pull_UnknownModel_SaysToDownloadItInLmStudio()
    {
        await using var proxy = await StartAsync();

        var (status, _, body) = await PostAsync(proxy, "/api/pull", """{"model":"llama3.2"}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("download it in LM Studio", ErrorOf(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/api/push", """{"model":"qwen/qwen3-8b"}""", 501, "push is not supported")]
    [InlineData("POST", "/api/create", """{"model":"mine","from":"qwen/qwen3-8b"}""", 501, "create is not supported")]
    [InlineData("POST", "/api/copy", """{"source":"qwen/qwen3-8b","destination":"alias"}""", 501, "copy is not supported")]
    [InlineData("POST", "/api/copy", """{"source":"nope","destination":"alias"}""", 404, "model 'nope' not found")]
    [InlineData("DELETE", "/api/delete", """{"model":"qwen/qwen3-8b"}""", 501, "delete is not supported")]
    [InlineData("DELETE", "/api/delete", """{"model":"nope"}""", 404, "model 'nope' not found")]
    [InlineData("POST", "/api/blobs/sha256:abc", "", 501, "blob upload is not supported")]
    public async Task ModelManagement_AnswersWithAnOllamaShapedErrorSayingWhatToDo(string method, string path, string json, int status, string error)
    {
        await using var proxy = await StartAsync();

        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = Json(json) };
        using var response = await proxy.Ollama.SendAsync(request, Ct);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.StartsWith(error, ErrorOf(await response.Content.ReadAsStringAsync(Ct)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BlobHead_SaysTheBlobIsNotThere()
    {
        await using var proxy = await StartAsync();

        using var response = await proxy.Ollama.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/api/blobs/sha256:abc"), Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
