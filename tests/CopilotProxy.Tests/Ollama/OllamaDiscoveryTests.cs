using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Time.Testing;

namespace CopilotProxy.Tests.Ollama;

/// <summary>Copilot's model discovery (docs/protocol.md §1.2): /api/version, /api/tags, then /api/show per model.</summary>
public sealed class OllamaDiscoveryTests
{
    private static async Task<JsonElement> ShowAsync(ProxyFixture proxy, string model)
    {
        using var response = await proxy.Ollama.PostAsync("api/show", new StringContent($$"""{"model":"{{model}}"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.Clone();
    }

    [Fact]
    public async Task Root_SaysOllamaIsRunning_ForGetAndHead()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        Assert.Equal("Ollama is running", await proxy.Ollama.GetStringAsync(""));
        using var head = await proxy.Ollama.SendAsync(new HttpRequestMessage(HttpMethod.Head, ""));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Fact]
    public async Task Version_PassesCopilotsMinimum_AndIsOverridable()
    {
        await using var proxy = await ProxyFixture.StartAsync();
        using var json = JsonDocument.Parse(await proxy.Ollama.GetStringAsync("api/version"));
        var version = Version.Parse(json.RootElement.GetProperty("version").GetString()!);
        Assert.True(version >= new Version(0, 6, 4), $"{version} is below Copilot's 0.6.4 minimum");

        await using var custom = await ProxyFixture.StartAsync(configure: s => s with { OllamaVersion = "0.9.0" });
        Assert.Contains("\"0.9.0\"", await custom.Ollama.GetStringAsync("api/version"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tags_ListsEveryModelInOllamaShape()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("qwen/qwen3-8b"), FakeModel.Embedding("text-embedding-nomic-embed-text-v1.5")]);

        using var json = JsonDocument.Parse(await proxy.Ollama.GetStringAsync("api/tags"));
        var models = json.RootElement.GetProperty("models").EnumerateArray().ToList();

        Assert.Equal(["qwen/qwen3-8b:latest", "text-embedding-nomic-embed-text-v1.5:latest"], models.Select(m => m.GetProperty("model").GetString()));
        var qwen = models[0];
        Assert.Equal(qwen.GetProperty("model").GetString(), qwen.GetProperty("name").GetString());
        Assert.Equal(5_030_000_000, qwen.GetProperty("size").GetInt64());
        Assert.Equal(64, qwen.GetProperty("digest").GetString()!.Length);
        Assert.True(DateTimeOffset.TryParse(qwen.GetProperty("modified_at").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
        var details = qwen.GetProperty("details");
        Assert.Equal("gguf", details.GetProperty("format").GetString());
        Assert.Equal("qwen3", details.GetProperty("family").GetString());
        Assert.Equal("Q4_K_M", details.GetProperty("quantization_level").GetString());
        Assert.Equal("8B", details.GetProperty("parameter_size").GetString());
    }

    [Fact]
    public async Task Show_ToolTrainedLoadedModel_AdvertisesToolsAndTheLoadedContext()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384) with { DisplayName = "Qwen3 8B" }]);

        var show = await ShowAsync(proxy, "qwen/qwen3-8b:latest");

        Assert.Equal(["completion", "tools"], show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));
        var info = show.GetProperty("model_info");
        Assert.Equal("qwen3", info.GetProperty("general.architecture").GetString());
        Assert.Equal("Qwen3 8B", info.GetProperty("general.basename").GetString());
        // The loaded context, not the 32768 maximum: Copilot budgets its prompt from this number.
        Assert.Equal(16384, info.GetProperty("qwen3.context_length").GetInt32());
    }

    [Fact]
    public async Task Show_ModelNotLoaded_AdvertisesItsMaximumContext()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: null)]);

        var show = await ShowAsync(proxy, "qwen/qwen3-8b");

        Assert.Equal(32768, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
    }

    [Fact]
    public async Task Show_VisionReasoningModel_AdvertisesVisionAndThinking()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("google/gemma-3-12b", reasoning: true, vision: true)]);

        var show = await ShowAsync(proxy, "google/gemma-3-12b");

        Assert.Equal(["completion", "tools", "vision", "thinking"], show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task Show_ModelNotTrainedForTools_HasNoToolsCapability()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("old/base-model") with { TrainedForToolUse = false }]);

        var show = await ShowAsync(proxy, "old/base-model");

        Assert.Equal(["completion"], show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task Show_EmbeddingModel_IsAnEmbeddingModelOnly()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Embedding("nomic-embed")]);

        var show = await ShowAsync(proxy, "nomic-embed");

        Assert.Equal(["embedding"], show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task Show_UnknownModel_Returns404InOllamasShape()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var response = await proxy.Ollama.PostAsync("api/show", new StringContent("""{"model":"nope:7b"}"""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("model 'nope:7b' not found", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Show_ModelDownloadedAfterStart_IsFoundWithoutWaitingForTheTimer()
    {
        var time = new FakeTimeProvider();
        await using var proxy = await ProxyFixture.StartAsync(time: time);
        await proxy.Ollama.GetStringAsync("api/tags");
        proxy.Upstream.Models.Add(FakeModel.Llm("mistral/devstral-small"));
        // Past the catalog's minimum spacing between refreshes; the periodic refresh never fires on this clock.
        time.Advance(TimeSpan.FromMilliseconds(1100));

        var show = await ShowAsync(proxy, "mistral/devstral-small");

        Assert.Contains("tools", show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task Ps_ListsOnlyLoadedModels_WithTheirContext()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("a/loaded", loadedContextLength: 12288), FakeModel.Llm("b/idle", loadedContextLength: null)]);

        using var json = JsonDocument.Parse(await proxy.Ollama.GetStringAsync("api/ps"));
        var model = Assert.Single(json.RootElement.GetProperty("models").EnumerateArray());

        Assert.Equal("a/loaded:latest", model.GetProperty("name").GetString());
        Assert.Equal(12288, model.GetProperty("context_length").GetInt32());
    }

    [Fact]
    public async Task LmStudio03_DiscoveryFallsBackToApiV0()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 10240)], FakeApiLevel.V0);

        var show = await ShowAsync(proxy, "qwen/qwen3-8b");

        Assert.Contains("tools", show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(10240, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
    }

    [Fact]
    public async Task PlainOpenAIServer_DiscoveryFallsBackToV1Models_AndNeverFailsShow()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("llama-3.2-3b")], FakeApiLevel.OpenAIOnly);

        var show = await ShowAsync(proxy, "llama-3.2-3b");

        Assert.Contains("completion", show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));
        Assert.True(show.GetProperty("model_info").TryGetProperty("general.architecture", out _));
    }

    [Fact]
    public async Task LmStudioDown_TagsAnswers502NamingTheUrl()
    {
        var upstream = await FakeLmStudio.StartAsync();
        var url = upstream.BaseUrl;
        await upstream.DisposeAsync();
        await using var proxy = await ProxyFixture.StartAsync(upstream);

        using var response = await proxy.Ollama.GetAsync("api/tags");
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains(url.Authority, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FrontDoorsAreSeparate_OllamaRoutesAreNotOnTheGateway()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var onGateway = await proxy.Gateway.GetAsync("api/tags");
        using var modelsOnGateway = await proxy.Gateway.GetAsync("v1/models");
        using var modelsOnOllama = await proxy.Ollama.GetAsync("v1/models");

        Assert.Equal(HttpStatusCode.NotFound, onGateway.StatusCode);
        Assert.Contains("\"error\":{", await onGateway.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, modelsOnGateway.StatusCode);
        Assert.Equal(HttpStatusCode.OK, modelsOnOllama.StatusCode);
        Assert.Contains("\"id\":\"qwen/qwen3-8b\"", await modelsOnGateway.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
