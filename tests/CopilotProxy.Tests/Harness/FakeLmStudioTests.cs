using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace CopilotProxy.Tests.Harness;

public class FakeLmStudioTests
{
    private const string Model = "qwen/qwen3-8b";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<FakeLmStudio> StartWithModelsAsync(FakeApiLevel level = FakeApiLevel.V1)
    {
        var fake = await FakeLmStudio.StartAsync(level);
        fake.Models.Add(FakeModel.Llm(Model, loadedContextLength: 16384, reasoning: true));
        fake.Models.Add(new FakeModel("google/gemma-3-12b", "vlm", MaxContextLength: 131072, TrainedForToolUse: false));
        fake.Models.Add(FakeModel.Embedding("text-embedding-nomic-embed-text-v1.5"));
        return fake;
    }

    private static HttpClient Client(FakeLmStudio fake) => new() { BaseAddress = fake.BaseUrl };

    private static async Task<(HttpStatusCode Status, JsonNode? Json)> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path, Ct);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct)));
    }

    private static StringContent ChatBody(bool stream, bool includeUsage = false, string model = Model) =>
        new($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}],"stream":{{(stream ? "true" : "false")}}{{(includeUsage ? ",\"stream_options\":{\"include_usage\":true}" : "")}}}""",
            Encoding.UTF8, "application/json");

    [Fact]
    public async Task V1_ServesAllThreeModelListsInLmStudioShapes()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);

        Assert.Equal("127.0.0.1", fake.BaseUrl.Host);
        var (s1, v1) = await GetJsonAsync(client, "/api/v1/models");
        var (s0, v0) = await GetJsonAsync(client, "/api/v0/models");
        var (so, oa) = await GetJsonAsync(client, "/v1/models");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], new[] { s1, s0, so });
        var qwen = v1!["models"]![0]!;
        Assert.Equal(Model, (string?)qwen["key"]);
        Assert.Equal("llm", (string?)qwen["type"]);
        Assert.Equal(16384, (int?)qwen["loaded_instances"]![0]!["config"]!["context_length"]);
        Assert.Equal(32768, (int?)qwen["max_context_length"]);
        Assert.True((bool?)qwen["capabilities"]!["trained_for_tool_use"]);
        Assert.NotNull(qwen["capabilities"]!["reasoning"]);
        Assert.Equal("Q4_K_M", (string?)qwen["quantization"]!["name"]);
        var gemma = v1["models"]![1]!;
        Assert.Equal("llm", (string?)gemma["type"]);
        Assert.True((bool?)gemma["capabilities"]!["vision"]);
        Assert.Empty(gemma["loaded_instances"]!.AsArray());
        Assert.Equal("embedding", (string?)v1["models"]![2]!["type"]);

        Assert.Equal("list", (string?)v0!["object"]);
        Assert.Equal("loaded", (string?)v0["data"]![0]!["state"]);
        Assert.Equal(16384, (int?)v0["data"]![0]!["loaded_context_length"]);
        Assert.Equal("tool_use", (string?)v0["data"]![0]!["capabilities"]![0]);
        Assert.Equal("not-loaded", (string?)v0["data"]![1]!["state"]);
        Assert.Null(v0["data"]![1]!["loaded_context_length"]);
        Assert.Equal("vlm", (string?)v0["data"]![1]!["type"]);
        Assert.Equal("embeddings", (string?)v0["data"]![2]!["type"]);

        Assert.Equal("""{"data":[{"id":"qwen/qwen3-8b","object":"model","owned_by":"organization_owner"},{"id":"google/gemma-3-12b","object":"model","owned_by":"organization_owner"},{"id":"text-embedding-nomic-embed-text-v1.5","object":"model","owned_by":"organization_owner"}],"object":"list"}""",
            oa!.ToJsonString());
    }

    [Fact]
    public async Task V0_AnswersApiV1With200UnexpectedEndpoint()
    {
        await using var fake = await StartWithModelsAsync(FakeApiLevel.V0);
        using var client = Client(fake);

        using var response = await client.GetAsync("/api/v1/models", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"error":"Unexpected endpoint or method. (GET /api/v1/models)"}""", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync(client, "/api/v0/models")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync(client, "/v1/models")).Status);
    }

    [Fact]
    public async Task OpenAIOnly_AnswersApiPathsWith404()
    {
        await using var fake = await StartWithModelsAsync(FakeApiLevel.OpenAIOnly);
        using var client = Client(fake);

        Assert.Equal(HttpStatusCode.NotFound, (await GetJsonAsync(client, "/api/v1/models")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetJsonAsync(client, "/api/v0/models")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync(client, "/v1/models")).Status);
    }

    [Fact]
    public async Task ApiLevel_CanChangeBetweenRequests()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);

        Assert.NotNull((await GetJsonAsync(client, "/api/v1/models")).Json!["models"]);
        fake.ApiLevel = FakeApiLevel.V0;
        Assert.Null((await GetJsonAsync(client, "/api/v1/models")).Json!["models"]);
        Assert.Equal(2, fake.CountOf("/api/v1/models"));
    }

    [Fact]
    public async Task DefaultChatStream_LooksLikeLmStudio()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);

        using var response = await client.PostAsync("/v1/chat/completions", ChatBody(stream: true), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var payloads = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", payloads[^1]);
        var chunks = payloads.SkipLast(1).Select(p => JsonNode.Parse(p)!).ToList();
        Assert.Single(chunks.Select(c => (string?)c["id"]).Distinct());
        Assert.Single(chunks.Select(c => (long?)c["created"]).Distinct());
        Assert.All(chunks, c => Assert.Equal(Model, (string?)c["system_fingerprint"]));
        Assert.All(chunks.SkipLast(1), c => Assert.Equal("assistant", (string?)c["choices"]![0]!["delta"]!["role"]));
        Assert.Equal("{}", chunks[^1]["choices"]![0]!["delta"]!.ToJsonString());
        Assert.Equal("stop", (string?)chunks[^1]["choices"]![0]!["finish_reason"]);
        Assert.DoesNotContain(chunks, c => c["usage"] is not null);
        var turn = CopilotSseParser.Parse(body);
        Assert.Equal(fake.DefaultReply, turn.Text);
        Assert.Equal("stop", turn.FinishReason);
    }

    [Fact]
    public async Task DefaultChatStreamWithIncludeUsage_EndsWithChoicesEmptyUsageChunk()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);

        using var response = await client.PostAsync("/v1/chat/completions", ChatBody(stream: true, includeUsage: true), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        var last = JsonNode.Parse(body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[^2]["data: ".Length..])!;
        Assert.Empty(last["choices"]!.AsArray());
        Assert.NotNull(last["usage"]!["total_tokens"]);
        Assert.NotNull(CopilotSseParser.Parse(body).Usage);
    }

    [Fact]
    public async Task DefaultChatWithoutStream_ReturnsChatCompletionJson()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);

        var (status, json) = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: false));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("chat.completion", (string?)json!["object"]);
        Assert.Equal(fake.DefaultReply, (string?)json["choices"]![0]!["message"]!["content"]);
        Assert.NotNull(json["usage"]);
    }

    [Fact]
    public async Task UnknownModel_Gets400ErrorObject()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);

        var (status, json) = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: true, model: "o4-mini"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("model_not_found", (string?)json!["error"]!["code"]);
    }

    [Fact]
    public async Task NotLoadedModel_IsJitLoadedOrRejectedWithStringError()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        const string Gemma = "google/gemma-3-12b";

        fake.JitContextLength = null;
        var (status, json) = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: false, model: Gemma));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(FakeLmStudio.NoModelsLoadedMessage, (string?)json!["error"]);

        fake.JitContextLength = 4096;
        (status, _) = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: false, model: Gemma));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(4096, fake.ModelsSnapshot().Single(m => m.Key == Gemma).LoadedContextLength);
    }

    [Fact]
    public async Task ScriptedResponses_AreUsedInOrderThenResponderThenDefault()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        fake.Enqueue(FakeResponse.ErrorString(400, "first"));
        fake.Enqueue(FakeResponse.ErrorObject(404, "second", "invalid_request_error", "model", "model_not_found"));
        fake.Responder = r => r.Json?["messages"]?[0]?["content"]?.GetValue<string>() == "hi" ? FakeResponse.Json(201, "{\"dynamic\":true}") : null;

        var first = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: true));
        var second = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: true));
        var third = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: true));
        fake.Responder = null;
        var fourth = await PostJsonAsync(client, "/v1/chat/completions", ChatBody(stream: false));

        Assert.Equal((HttpStatusCode.BadRequest, "first"), (first.Status, (string?)first.Json!["error"]));
        Assert.Equal((HttpStatusCode.NotFound, "second"), (second.Status, (string?)second.Json!["error"]!["message"]));
        Assert.Equal("model", (string?)second.Json["error"]!["param"]);
        Assert.Equal(HttpStatusCode.Created, third.Status);
        Assert.Equal(HttpStatusCode.OK, fourth.Status);
        Assert.Equal(0, fake.PendingResponses);
        Assert.Equal(4, fake.CountOf("/v1/chat/completions"));
    }

    [Fact]
    public async Task Requests_RecordWhatReachedTheUpstream()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions?x=1") { Content = ChatBody(stream: false) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "lm-studio");

        using var response = await client.SendAsync(request, Ct);

        var recorded = Assert.Single(fake.Requests);
        Assert.Equal("POST", recorded.Method);
        Assert.Equal("/v1/chat/completions", recorded.Path);
        Assert.Equal("?x=1", recorded.Query);
        Assert.Equal("Bearer lm-studio", recorded.Headers["authorization"]);
        Assert.Equal(Model, recorded.Model);
        Assert.False((bool)recorded.Json!["stream"]!);
        Assert.False(recorded.WasChunked);
        Assert.False(await recorded.ClientAborted);
    }

    [Fact]
    public async Task ChunkedRequestBody_IsAccepted()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        var json = """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"chunked"}],"stream":false}""";
        using var content = new StreamContent(new NonSeekableStream(Encoding.UTF8.GetBytes(json)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await client.PostAsync("/v1/chat/completions", content, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var recorded = Assert.Single(fake.Requests);
        Assert.True(recorded.WasChunked);
        Assert.Equal(json, recorded.Body);
    }

    [Fact]
    public async Task SseDropAfter_CutsTheConnectionMidStream()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        fake.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Model, "a", "b", "c", "d"), dropAfter: 2));

        using var response = await SendStreamingAsync(client, ChatBody(stream: true));
        await using var stream = await response.Content.ReadAsStreamAsync(Ct);
        var turnTask = CopilotSseParser.ParseAsync(stream, Ct);

        var turn = await turnTask;
        Assert.NotNull(turn.TransportError);
        Assert.Equal("ab", turn.Text);
        Assert.False(turn.SawDone);
        Assert.False(await fake.Requests[0].ClientAborted);

        fake.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Model, "a", "b"), dropAfter: 1));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.PostAsync("/v1/chat/completions", ChatBody(stream: true), Ct));
    }

    [Fact]
    public async Task ClientAbortMidStream_IsObserved()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        fake.Enqueue(FakeResponse.Sse(Enumerable.Range(0, 1000).Select(i => $"{{\"n\":{i}}}"), delayBetween: TimeSpan.FromMilliseconds(50)));

        using (var response = await SendStreamingAsync(client, ChatBody(stream: true)))
        {
            await using var stream = await response.Content.ReadAsStreamAsync(Ct);
            var buffer = new byte[64];
            Assert.True(await stream.ReadAsync(buffer, Ct) > 0);
        }

        var aborted = await fake.NextClientDisconnectAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("/v1/chat/completions", aborted.Path);
        Assert.True(await aborted.ClientAborted);
    }

    [Fact]
    public async Task ClientCancelWhileHanging_IsObserved()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        fake.Enqueue(FakeResponse.Hang());
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var send = client.PostAsync("/v1/chat/completions", ChatBody(stream: true), cts.Token);
        while (fake.CountOf("/v1/chat/completions") == 0)
        {
            await Task.Delay(10, Ct);
        }

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);

        var aborted = await fake.NextClientDisconnectAsync(TimeSpan.FromSeconds(10));
        Assert.True(await aborted.ClientAborted);
    }

    [Fact]
    public async Task SlowStream_WaitsBetweenEvents()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        fake.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Model, "a", "b", "c"), delayBetween: TimeSpan.FromMilliseconds(100)));

        var watch = Stopwatch.StartNew();
        using var response = await client.PostAsync("/v1/chat/completions", ChatBody(stream: true), Ct);
        var turn = CopilotSseParser.Parse(await response.Content.ReadAsStringAsync(Ct));

        // 5 payloads (3 tokens, finish, [DONE]) = 4 gaps.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(380), watch.Elapsed.ToString());
        Assert.Equal("abc", turn.Text);
    }

    [Fact]
    public async Task RawSse_WritesTranscriptBytesExactly()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        fake.Enqueue(FakeResponse.RawSse(Transcripts.Read("llama-server/tool-stream.sse")));

        using var response = await client.PostAsync("/v1/chat/completions", ChatBody(stream: true), Ct);

        Assert.Equal(Transcripts.ReadBytes("llama-server/tool-stream.sse"), await response.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task DefaultEmbeddings_ReturnFloatsEvenWhenBase64Asked()
    {
        await using var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        using var body = new StringContent("""{"model":"text-embedding-nomic-embed-text-v1.5","input":["a","b"],"encoding_format":"base64"}""",
            Encoding.UTF8, "application/json");

        var (status, json) = await PostJsonAsync(client, "/v1/embeddings", body);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, json!["data"]!.AsArray().Count);
        Assert.Equal(8, json["data"]![0]!["embedding"]!.AsArray().Count);
    }

    [Fact]
    public async Task Dispose_CutsHangingRequestsAndStopsListening()
    {
        var fake = await StartWithModelsAsync();
        using var client = Client(fake);
        fake.Enqueue(FakeResponse.Hang());
        var pending = client.PostAsync("/v1/chat/completions", ChatBody(stream: true), Ct);
        while (fake.CountOf("/v1/chat/completions") == 0)
        {
            await Task.Delay(10, Ct);
        }

        await fake.DisposeAsync();

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => pending);
        Assert.False(await fake.Requests[0].ClientAborted);
        var refused = await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync("/v1/models", Ct));
        Assert.IsType<SocketException>(refused.InnerException);
    }

    private static Task<HttpResponseMessage> SendStreamingAsync(HttpClient client, HttpContent body) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = body }, HttpCompletionOption.ResponseHeadersRead, Ct);

    private static async Task<(HttpStatusCode Status, JsonNode? Json)> PostJsonAsync(HttpClient client, string path, HttpContent body)
    {
        using var response = await client.PostAsync(path, body, Ct);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct)));
    }

    /// <summary>Hides the length so HttpClient must send Transfer-Encoding: chunked.</summary>
    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
