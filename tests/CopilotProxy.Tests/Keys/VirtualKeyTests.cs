using System.Net;
using System.Text.Json.Nodes;
using CopilotProxy.Configuration;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Keys.KeyClient;

namespace CopilotProxy.Tests.Keys;

/// <summary>Virtual keys end to end over a real SQLite file: issue, use, limit, count, revoke, restart.</summary>
public class VirtualKeyTests
{
    private static readonly FakeModel[] Models = [FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384), FakeModel.Llm("google/gemma-3-12b", loadedContextLength: 16384)];

    private static Task<ProxyFixture> StartAsync(Func<ProxySettings, ProxySettings>? configure = null) =>
        ProxyFixture.StartAsync(Models, configure: s => (configure ?? (x => x))(s with { ApiKey = Master }));

    [Fact]
    public async Task GeneratedKey_WorksOnBothFrontDoors_SeesOnlyItsModels_AndIsStoredHashed()
    {
        await using var proxy = await StartAsync();
        var (created, json) = await SendAsync(proxy.Gateway, HttpMethod.Post, "/key/generate", Master,
            """{"key_alias":"alice","models":["qwen/qwen3-8b"],"rpm_limit":100,"metadata":{"team":"search"}}""");
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var key = (string)json!["key"]!;
        Assert.StartsWith("sk-", key, StringComparison.Ordinal);
        Assert.Equal("alice", (string)json["key_alias"]!);
        Assert.Equal("search", (string)json["metadata"]!["team"]!);

        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Gateway, key)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Ollama, key)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(proxy.Ollama, HttpMethod.Post, "/api/chat", key,
            """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi"}],"stream":false}""")).Response.StatusCode);

        var (_, models) = await SendAsync(proxy.Gateway, HttpMethod.Get, "/v1/models", key);
        Assert.Equal(["qwen/qwen3-8b"], models!["data"]!.AsArray().Select(m => (string)m!["id"]!));
        var (_, info) = await SendAsync(proxy.Gateway, HttpMethod.Get, "/model/info", key);
        Assert.All(info!["data"]!.AsArray(), m => Assert.Equal("qwen/qwen3-8b", (string)m!["model_name"]!));
        var (_, allModels) = await SendAsync(proxy.Gateway, HttpMethod.Get, "/v1/models", Master);
        Assert.Equal(2, allModels!["data"]!.AsArray().Count);

        var (refused, error) = await ChatAsync(proxy.Gateway, key, "google/gemma-3-12b");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("not allowed to use model 'google/gemma-3-12b'", (string)error!["error"]!["message"]!, StringComparison.Ordinal);

        var database = await File.ReadAllBytesAsync(Path.Combine(proxy.Settings.DataDir!, "keys.db"), TestContext.Current.CancellationToken);
        Assert.DoesNotContain(key, System.Text.Encoding.UTF8.GetString(database), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeletedOrExpiredKey_Gets401InOpenAIShape()
    {
        await using var proxy = await StartAsync();
        var deleted = await GenerateAsync(proxy.Gateway);
        var expiring = await GenerateAsync(proxy.Gateway, """{"duration":"1s"}""");
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Gateway, deleted)).Response.StatusCode);

        var (gone, goneJson) = await SendAsync(proxy.Gateway, HttpMethod.Post, "/key/delete", Master, $$"""{"keys":["{{deleted}}"]}""");
        Assert.Equal(HttpStatusCode.OK, gone.StatusCode);
        Assert.Single(goneJson!["deleted_keys"]!.AsArray());
        var (afterDelete, json) = await ChatAsync(proxy.Gateway, deleted);
        Assert.Equal(HttpStatusCode.Unauthorized, afterDelete.StatusCode);
        Assert.Equal("authentication_error", (string)json!["error"]!["type"]!);
        Assert.Equal("invalid_api_key", (string)json["error"]!["code"]!);

        await Task.Delay(1200, TestContext.Current.CancellationToken);
        var (afterExpiry, expiredJson) = await ChatAsync(proxy.Gateway, expiring);
        Assert.Equal(HttpStatusCode.Unauthorized, afterExpiry.StatusCode);
        Assert.Contains("expired", (string)expiredJson!["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RpmLimit_Answers429InEachApisShape_WithRetryAfterAndRateLimitHeaders()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.MessagesApi = true;
        var key = await GenerateAsync(proxy.Gateway, """{"rpm_limit":2}""");

        var (first, _) = await ChatAsync(proxy.Gateway, key);
        Assert.Equal("2", first.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("1", first.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Gateway, key)).Response.StatusCode);

        var (openAI, openAIJson) = await ChatAsync(proxy.Gateway, key);
        Assert.Equal(HttpStatusCode.TooManyRequests, openAI.StatusCode);
        Assert.True(openAI.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("0", openAI.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal("rate_limit_error", (string)openAIJson!["error"]!["type"]!);
        Assert.Contains("rpm_limit", (string)openAIJson["error"]!["message"]!, StringComparison.Ordinal);

        var (anthropic, anthropicJson) = await SendAsync(proxy.Gateway, HttpMethod.Post, "/v1/messages", key,
            """{"model":"qwen/qwen3-8b","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, anthropic.StatusCode);
        Assert.Equal("error", (string)anthropicJson!["type"]!);
        Assert.Equal("rate_limit_error", (string)anthropicJson["error"]!["type"]!);

        var (ollama, ollamaJson) = await SendAsync(proxy.Ollama, HttpMethod.Post, "/api/chat", key,
            """{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi"}],"stream":false}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, ollama.StatusCode);
        Assert.Contains("rpm_limit", (string)ollamaJson!["error"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_IsCountedPerKey_AndTheTokenBudgetRefusesOnceSpent()
    {
        await using var proxy = await StartAsync();
        var key = await GenerateAsync(proxy.Gateway, """{"max_budget_tokens":5}""");
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Gateway, key)).Response.StatusCode);

        var usage = await UsageAsync(proxy.Gateway, key, 1);
        Assert.Equal(1, (long)usage["requests"]!);
        Assert.True((long)usage["completion_tokens"]! > 0);
        Assert.Equal((long)usage["prompt_tokens"]! + (long)usage["completion_tokens"]!, (long)usage["total_tokens"]!);
        Assert.Equal(1, (long)usage["today"]!["requests"]!);

        // The budget is checked against the key as last read (cached for up to 5 s): wait for the spent tokens to show.
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 80 && refused?.StatusCode != HttpStatusCode.TooManyRequests; i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            refused = (await ChatAsync(proxy.Gateway, key)).Response;
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, refused!.StatusCode);
        Assert.Equal("0", refused.Headers.GetValues("x-ratelimit-remaining-tokens").Single());
    }

    [Fact]
    public async Task TpmLimit_RefusesOnceTheMinutesTokensAreSpent_AndMetricsCountTokensPerAlias()
    {
        await using var proxy = await StartAsync();
        var key = await GenerateAsync(proxy.Gateway, """{"key_alias":"tpm-user","tpm_limit":5}""");

        // Each answer is more than 5 tokens; once the usage writer has added them to this minute, the key is refused.
        HttpResponseMessage? refused = null;
        JsonNode? json = null;
        for (var i = 0; i < 50 && refused?.StatusCode != HttpStatusCode.TooManyRequests; i++)
        {
            (refused, json) = await ChatAsync(proxy.Gateway, key);
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, refused!.StatusCode);
        Assert.Contains("tpm_limit", (string)json!["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Equal("5", refused.Headers.GetValues("x-ratelimit-limit-tokens").Single());
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);

        var metrics = await proxy.Gateway.GetStringAsync("metrics", TestContext.Current.CancellationToken);
        Assert.Contains("copilot_proxy_key_requests_total{key_alias=\"tpm-user\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("copilot_proxy_key_tokens_total{key_alias=\"tpm-user\",direction=\"output\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeysAndUsage_SurviveARestart()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "copilot-proxy-tests", Guid.NewGuid().ToString("n"));
        string key;
        await using (var first = await StartAsync(s => s with { DataDir = dataDir }))
        {
            key = await GenerateAsync(first.Gateway, """{"key_alias":"persisted"}""");
            Assert.Equal(HttpStatusCode.OK, (await ChatAsync(first.Gateway, key)).Response.StatusCode);
            await UsageAsync(first.Gateway, key, 1);
        }

        await using var second = await StartAsync(s => s with { DataDir = dataDir });
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(second.Gateway, key)).Response.StatusCode);
        var usage = await UsageAsync(second.Gateway, key, 2);
        Assert.Equal(2, (long)usage["requests"]!);
        var (_, list) = await SendAsync(second.Gateway, HttpMethod.Get, "/key/list?return_full_object=true", Master);
        Assert.Equal("persisted", (string)list!["keys"]![0]!["key_alias"]!);
    }

    [Fact]
    public async Task HealthClientsAndDashboardApi_NeedAKey_ProbesAndMetricsStayOpen()
    {
        await using var proxy = await StartAsync();
        foreach (var path in (string[])["/health", "/clients", "/model/info", "/ui/api/state"])
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(proxy.Gateway, HttpMethod.Get, path, null)).Response.StatusCode);
        }

        var key = await GenerateAsync(proxy.Gateway);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(proxy.Gateway, HttpMethod.Get, "/clients", key)).Response.StatusCode);
        foreach (var path in (string[])["/health/liveliness", "/health/readiness", "/metrics"])
        {
            Assert.NotEqual(HttpStatusCode.Unauthorized, (await SendAsync(proxy.Gateway, HttpMethod.Get, path, null)).Response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Ollama, null)).Response.StatusCode);
    }

    [Fact]
    public async Task OllamaRequireKey_ClosesTheOllamaFrontDoor()
    {
        await using var proxy = await StartAsync(s => s with { OllamaRequireKey = true });
        var (refused, json) = await SendAsync(proxy.Ollama, HttpMethod.Post, "/api/chat", null, """{"model":"qwen/qwen3-8b","messages":[]}""");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.NotNull(json!["error"]);
        var key = await GenerateAsync(proxy.Gateway);
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Ollama, key)).Response.StatusCode);
    }

    [Fact]
    public async Task KeyRoutes_NeedTheMasterKey()
    {
        await using var proxy = await StartAsync();
        var key = await GenerateAsync(proxy.Gateway);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(proxy.Gateway, HttpMethod.Post, "/key/generate", key, "{}")).Response.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(proxy.Gateway, HttpMethod.Get, "/key/list", key)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(proxy.Gateway, HttpMethod.Get, "/key/list", null)).Response.StatusCode);
        // A key may read its own info.
        var (own, json) = await SendAsync(proxy.Gateway, HttpMethod.Get, "/key/info", key);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.NotNull(json!["info"]!["usage"]);
    }

    public static TheoryData<string, string, string, string> BadInput => new()
    {
        { "POST", "/key/generate", "not json", "" },
        { "POST", "/key/generate", "[]", "" },
        { "POST", "/key/generate", """{"max_budget":10}""", "max_budget" },
        { "POST", "/key/generate", """{"rpm_limit":0}""", "rpm_limit" },
        { "POST", "/key/generate", """{"tpm_limit":"many"}""", "tpm_limit" },
        { "POST", "/key/generate", """{"models":"qwen"}""", "models" },
        { "POST", "/key/generate", """{"duration":"forever"}""", "duration" },
        { "POST", "/key/generate", """{"metadata":[1]}""", "metadata" },
        { "POST", "/key/generate", """{"team_id":"t1"}""", "team_id" },
        { "POST", "/key/generate", """{"key":"short"}""", "key" },
        { "POST", "/key/update", """{"rpm_limit":5}""", "key" },
        { "POST", "/key/update", """{"key":"sk-does-not-exist-0000","rpm_limit":5}""", "key" },
        { "POST", "/key/update", """{"key":"sk-does-not-exist-0000","max_parallel_requests":-1}""", "max_parallel_requests" },
        { "POST", "/key/delete", """{"keys":[]}""", "keys" },
        { "POST", "/key/delete", """{"keys":[1]}""", "keys" },
        { "POST", "/key/delete", """{"keys":["sk-does-not-exist-0000"]}""", "key" },
        { "GET", "/key/info?key=sk-does-not-exist-0000", "", "key" },
        { "GET", "/key/info", "", "key" },
        { "GET", "/key/list?page=0", "", "page" },
        { "GET", "/key/list?size=1000", "", "page" },
        { "GET", "/key/list?return_full_object=yes", "", "return_full_object" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task BadInputToAKeyRoute_GetsAClearErrorInOpenAIShape_AndTheProxyKeepsServing(string method, string path, string body, string param)
    {
        await using var proxy = await StartAsync();
        var (response, json) = await SendAsync(proxy.Gateway, new HttpMethod(method), path, Master, method == "POST" ? body : null);

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{response.StatusCode}: {json?.ToJsonString()}");
        var error = json!["error"]!;
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        if (param.Length > 0)
        {
            Assert.Equal(param, (string?)error["param"]);
        }

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(proxy.Gateway, HttpMethod.Get, "/key/list", Master)).Response.StatusCode);
    }

    [Fact]
    public async Task DollarBudget_IsRefusedWithTheTokenBudgetNamed()
    {
        await using var proxy = await StartAsync();
        var (response, json) = await SendAsync(proxy.Gateway, HttpMethod.Post, "/key/generate", Master, """{"max_budget":10}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("max_budget_tokens", (string)json!["error"]!["message"]!, StringComparison.Ordinal);
    }
}
