using System.Text.Json;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.Catalog;

/// <summary>One model catalog for both front doors: config.yaml aliases in Ollama discovery and in /v1/models.</summary>
public sealed class GatewayCatalogTests
{
    private static string[] Names(JsonElement list, string array, string property) =>
        list.GetProperty(array).EnumerateArray().Select(m => m.GetProperty(property).GetString()!).ToArray();

    private static async Task<JsonElement> ShowAsync(ProxyFixture proxy, string model)
    {
        var answer = await SendAsync(proxy.Ollama, Post("api/show", $$"""{"model":"{{model}}"}"""));
        Assert.Equal(200, answer.Status);
        return answer.Body;
    }

    private static string[] Capabilities(JsonElement show) =>
        show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()!).ToArray();

    [Fact]
    public async Task OriginalProjectConfig_Verbatim_ServesChatThroughTheGatewayWithItsKey()
    {
        var upstream = await FakeLmStudio.StartAsync();
        string[] ids = ["qwen2.5-coder-32b-instruct", "deepseek-r1-distill-qwen-32b", "llama-3.3-70b-instruct", "mistral-small-24b-instruct-2501", "phi-4"];
        upstream.Models.AddRange(ids.Select(id => FakeModel.Llm(id)));
        var config = Config(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Configuration", "Fixtures", "original-project.yaml")));
        // The file names http://localhost:1234/v1; LMSTUDIO_URL says where LM Studio really is (here: the fake).
        await using var proxy = await ProxyFixture.StartAsync(upstream, config: config);

        var models = await SendAsync(proxy.Gateway, Get("v1/models", bearer: "dummy"));
        var refused = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("phi-4")));
        var chat = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat("phi-4"), bearer: "dummy"));

        Assert.Equal(ids, Names(models.Body, "data", "id"));
        Assert.Equal(401, refused.Status);
        Assert.Equal(200, chat.Status);
        Assert.Equal("phi-4", chat.Body.GetProperty("model").GetString());
        var sent = upstream.Requests.Single(r => r.Path == "/v1/chat/completions");
        Assert.Equal("phi-4", sent.Model);
        Assert.Equal("Bearer dummy", sent.Headers["Authorization"]);
    }

    [Fact]
    public async Task Aliases_AppearInOllamaDiscovery_WithTheUpstreamModelsCapabilities()
    {
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm(Key, loadedContextLength: 16384, vision: true));
        var config = Config($"""
            model_list:
              - model_name: coder
                litellm_params:
                  model: lm_studio/{Key}
              - model_name: downloading
                litellm_params:
                  model: lm_studio/qwen/not-downloaded-yet
              - model_name: plain
                litellm_params:
                  model: lm_studio/{Key}
                model_info:
                  supports_function_calling: false
                  supports_vision: false
                  max_input_tokens: 4096
            """);
        await using var proxy = await ProxyFixture.StartAsync(upstream, config: config);

        var tags = await SendAsync(proxy.Ollama, Get("api/tags"));
        var coder = await ShowAsync(proxy, "coder:latest");
        var downloading = await ShowAsync(proxy, "downloading");
        var plain = await ShowAsync(proxy, "plain:latest");
        var gatewayModels = await SendAsync(proxy.Gateway, Get("models"));
        var ollamaModels = await SendAsync(proxy.Ollama, Get("v1/models"));

        Assert.Equal(["coder:latest", "downloading:latest", "plain:latest"], Names(tags.Body, "models", "model"));
        Assert.Equal(["completion", "tools", "vision"], Capabilities(coder));
        Assert.Equal(16384, coder.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
        Assert.Equal(["completion", "tools"], Capabilities(downloading));
        Assert.Equal(["completion"], Capabilities(plain));
        Assert.Equal(4096, plain.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
        Assert.Equal(["coder", "downloading", "plain"], Names(gatewayModels.Body, "data", "id"));
        Assert.Equal(["coder", "downloading", "plain"], Names(ollamaModels.Body, "data", "id"));
    }

    [Fact]
    public async Task AliasChatOnTheOllamaFrontDoor_ReachesTheUpstreamId()
    {
        var config = Config($"""
            model_list:
              - model_name: coder
                litellm_params:
                  model: openai/{Key}
                  temperature: 0.3
            """);
        await using var proxy = await ProxyFixture.StartAsync(config: config);

        var answer = await SendAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat("coder:latest", stream: false)));

        Assert.Equal(200, answer.Status);
        var sent = proxy.Upstream.Requests.Single(r => r.Path == "/v1/chat/completions");
        Assert.Equal(Key, sent.Model);
        Assert.Equal(0.1, sent.Json!["temperature"]!.GetValue<double>());
    }

    [Fact]
    public async Task AliasOnNativeOllamaChat_ReachesTheUpstreamIdWithTheEntryDefaults()
    {
        var config = Config($"""
            model_list:
              - model_name: coder
                litellm_params:
                  model: openai/{Key}
                  temperature: 0.3
                  max_tokens: 512
            """);
        await using var proxy = await ProxyFixture.StartAsync(config: config);

        using var response = await proxy.Ollama.PostAsync("api/chat", new StringContent(
            """{"model":"coder","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"temperature":0.9}}""",
            System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var sent = proxy.Upstream.Requests.Single(r => r.Path == "/v1/chat/completions");
        Assert.Equal(Key, sent.Model);
        // The client's own option wins; the entry's default fills what the client left out.
        Assert.Equal(0.9, sent.Json!["temperature"]!.GetValue<double>());
        Assert.Equal(512, sent.Json["max_tokens"]!.GetValue<int>());
        Assert.Contains("\"model\":\"coder\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wildcard_AddsEveryDiscoveredModelNextToTheAliases()
    {
        var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.AddRange([FakeModel.Llm(Key), FakeModel.Embedding("nomic-embed")]);
        var config = Config($"""
            model_list:
              - model_name: coder
                litellm_params:
                  model: openai/{Key}
              - model_name: "lms/*"
                litellm_params:
                  model: lm_studio/*
            """);
        await using var proxy = await ProxyFixture.StartAsync(upstream, config: config);

        var models = await SendAsync(proxy.Gateway, Get("v1/models"));
        var one = await SendAsync(proxy.Gateway, Get($"v1/models/lms/{Key}"));
        var missing = await SendAsync(proxy.Gateway, Get($"models/{Key}"));
        var chat = await SendAsync(proxy.Gateway, Post("chat/completions", Chat($"lms/{Key}")));

        Assert.Equal(["coder", $"lms/{Key}", "lms/nomic-embed"], Names(models.Body, "data", "id"));
        Assert.Equal(200, one.Status);
        Assert.Equal($"lms/{Key}", one.Body.GetProperty("id").GetString());
        Assert.Equal(404, missing.Status);
        Assert.Equal("model_not_found", missing.ErrorCode);
        Assert.Equal(200, chat.Status);
        Assert.Equal(Key, upstream.Requests.Single(r => r.Path == "/v1/chat/completions").Model);
    }

    [Fact]
    public async Task EmbeddingsAskedAsBase64_AreEncodedFromTheUpstreamsFloats()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Embedding("nomic-embed")]);
        const string Body = """{"model":"nomic-embed","input":["hello"]""";

        var floats = await SendAsync(proxy.Gateway, Post("v1/embeddings", Body + ""","encoding_format":"float"}"""));
        var base64 = await SendAsync(proxy.Gateway, Post("embeddings", Body + ""","encoding_format":"base64"}"""));

        var expected = floats.Body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var bytes = Convert.FromBase64String(base64.Body.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        var decoded = Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, i * 4)).ToArray();
        Assert.Equal(8, expected.Length);
        Assert.Equal(expected, decoded);
        Assert.Equal("nomic-embed", base64.Body.GetProperty("model").GetString());
        Assert.All(proxy.Upstream.Requests.Where(r => r.Path == "/v1/embeddings"), r => Assert.Null(r.Json!["encoding_format"]));
    }

    [Fact]
    public async Task Completions_AreRelayedWithAndWithoutV1()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var withV1 = await SendAsync(proxy.Gateway, Post("v1/completions", $$"""{"model":"{{Key}}","prompt":"def add("}"""));
        var without = await SendAsync(proxy.Gateway, Post("completions", $$"""{"model":"{{Key}}","prompt":"def add(","stream":true}"""));

        Assert.Equal(200, withV1.Status);
        Assert.Equal("text_completion", withV1.Body.GetProperty("object").GetString());
        Assert.Equal(200, without.Status);
        Assert.Contains("data: [DONE]", without.Text, StringComparison.Ordinal);
        Assert.Equal(2, proxy.Upstream.CountOf("/v1/completions"));
    }

    [Fact]
    public async Task Health_ReportsEveryUpstreamAndDeployment()
    {
        var dead = await FakeLmStudio.StartAsync();
        await dead.DisposeAsync();
        var config = Config($"""
            model_list:
              - model_name: here
                litellm_params:
                  model: openai/{Key}
              - model_name: there
                litellm_params:
                  model: openai/{Key}
                  api_base: {dead.BaseUrl}v1
            """);
        await using var proxy = await ProxyFixture.StartAsync(config: config);

        var health = await SendAsync(proxy.Gateway, Get("health"));
        var readiness = await SendAsync(proxy.Gateway, Get("health/readiness"));

        Assert.Equal(["here"], Names(health.Body, "healthy_endpoints", "model"));
        var unhealthy = health.Body.GetProperty("unhealthy_endpoints").EnumerateArray().Single();
        Assert.Equal("there", unhealthy.GetProperty("model").GetString());
        Assert.Contains("connection refused", unhealthy.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, health.Body.GetProperty("upstreams").GetArrayLength());
        Assert.Equal(200, readiness.Status);
        Assert.Equal(1, readiness.Body.GetProperty("upstreams_reachable").GetInt32());
    }
}
