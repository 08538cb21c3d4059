using System.Net.Http.Json;
using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Loading;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Upstream;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.Loading;

/// <summary>
/// MIN_CONTEXT_LENGTH: the proxy makes sure an LM Studio model has at least that context before a request, over real
/// sockets against the fake LM Studio's load and unload routes, and discovery reports the context the model will have.
/// </summary>
public sealed class ContextFloorTests(ITestOutputHelper output)
{
    private const string Key = "qwen/qwen3-coder-30b";

    private static FakeModel Model(int? loaded, int max = 131072) => FakeModel.Llm(Key, loadedContextLength: loaded) with { MaxContextLength = max };

    private static Task<ProxyFixture> StartAsync(FakeModel model, int floor = 32768, TimeProvider? time = null) =>
        ProxyFixture.StartAsync([model], configure: s => s with { MinContextLength = floor }, time: time);

    private static int Lists(ProxyFixture proxy) => proxy.Upstream.CountOf("/api/v1/models");

    /// <summary>What a user does in LM Studio's UI behind the proxy's back: reload the model with a smaller context.</summary>
    private static void ReloadInLmStudio(ProxyFixture proxy, int context)
    {
        lock (proxy.Upstream.Models)
        {
            proxy.Upstream.Models[0] = proxy.Upstream.Models[0] with { LoadedContextLength = context };
        }
    }

    private static async Task<JsonElement> ShowAsync(ProxyFixture proxy, string model = Key)
    {
        using var response = await proxy.Ollama.PostAsJsonAsync("api/show", new { model });
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    private static async Task<ContextOutcome?> EnsureAsync(ProxyFixture proxy, int? numCtx = null)
    {
        var catalog = proxy.App.Services.GetRequiredService<ModelCatalog>();
        var model = (await catalog.FindAsync(Key, CancellationToken.None))!;
        return await proxy.App.Services.GetRequiredService<ModelLifecycle>().EnsureContextAsync(model, model.Deployments[0], numCtx, CancellationToken.None);
    }

    private void Print(string title, FakeLmStudio fake)
    {
        output.WriteLine(title);
        foreach (var line in fake.CallLog())
        {
            output.WriteLine("  " + line);
        }
    }

    [Fact]
    public async Task Discovery_ModelLoadedBelowTheFloor_ReportsTheContextItWillHave()
    {
        await using var proxy = await StartAsync(Model(loaded: 4096));

        var show = await ShowAsync(proxy);
        var ps = await SendAsync(proxy.Ollama, Get("api/ps"));

        Assert.Equal(32768, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
        Assert.Equal("num_ctx 32768", show.GetProperty("parameters").GetString());
        Assert.Equal(32768, ps.Body.GetProperty("models")[0].GetProperty("context_length").GetInt32());
    }

    [Fact]
    public async Task Discovery_NotLoaded_ReportsTheFloorNotTheMaximum()
    {
        await using var proxy = await StartAsync(Model(loaded: null));

        var show = await ShowAsync(proxy);

        Assert.Equal(32768, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
    }

    [Fact]
    public async Task Discovery_LoadedAboveTheFloor_ReportsWhatItHas()
    {
        await using var proxy = await StartAsync(Model(loaded: 65536));

        var show = await ShowAsync(proxy);

        Assert.Equal(65536, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
    }

    [Fact]
    public async Task Discovery_FloorAboveTheModelsMaximum_ReportsTheMaximum()
    {
        await using var proxy = await StartAsync(Model(loaded: null, max: 16384));

        var show = await ShowAsync(proxy);

        Assert.Equal(16384, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
    }

    [Fact]
    public async Task Discovery_FloorOff_ReportsLmStudiosNumbers()
    {
        await using var proxy = await StartAsync(Model(loaded: 4096), floor: 0);

        var show = await ShowAsync(proxy);

        Assert.Equal(4096, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
    }

    [Fact]
    public async Task PerModelFloor_FromConfigYaml_OverridesTheSetting()
    {
        var fake = await FakeLmStudio.StartAsync();
        fake.Models.Add(Model(loaded: 8192));
        var config = Config($"""
            model_list:
              - model_name: coder
                litellm_params:
                  model: lm_studio/{Key}
                model_info:
                  min_context_length: 65536
            """);
        await using var proxy = await ProxyFixture.StartAsync(fake, s => s with { MinContextLength = 32768 }, config);

        var show = await ShowAsync(proxy, "coder");
        var catalog = proxy.App.Services.GetRequiredService<ModelCatalog>();
        var model = (await catalog.FindAsync("coder", CancellationToken.None))!;
        await proxy.App.Services.GetRequiredService<ModelLifecycle>().EnsureContextAsync(model, model.Deployments[0], null, CancellationToken.None);

        Assert.Equal(65536, show.GetProperty("model_info").GetProperty("qwen3.context_length").GetInt32());
        Assert.Equal(65536, (int)fake.Requests.Single(r => r.Path == "/api/v1/models/load").Json!["context_length"]!);
    }

    [Fact]
    public async Task NotLoaded_IsLoadedWithTheFloor()
    {
        await using var proxy = await StartAsync(Model(loaded: null));

        var outcome = await EnsureAsync(proxy);

        Print("Unloaded model:", proxy.Upstream);
        Assert.Equal(["GET /api/v1/models", $$"""POST /api/v1/models/load {"model":"{{Key}}","context_length":32768}"""],
            proxy.Upstream.CallLog().Where(l => !l.StartsWith("GET /v1/models", StringComparison.Ordinal)).Skip(1).Take(2));
        Assert.Equal(32768, outcome!.LoadedContext);
        Assert.NotNull(outcome.LoadDuration);
        Assert.Equal(32768, proxy.Upstream.ModelsSnapshot().Single().LoadedContextLength);
    }

    [Fact]
    public async Task LoadedSmaller_IsUnloadedAndLoadedAgainWithTheFloor()
    {
        await using var proxy = await StartAsync(Model(loaded: 4096));

        await EnsureAsync(proxy);

        Print("Model loaded at 4096:", proxy.Upstream);
        var calls = proxy.Upstream.CallLog(includeDiscovery: false);
        Assert.Equal([$$"""POST /api/v1/models/unload {"instance_id":"{{Key}}"}""", $$"""POST /api/v1/models/load {"model":"{{Key}}","context_length":32768}"""], calls);
        Assert.Equal(32768, proxy.Upstream.ModelsSnapshot().Single().LoadedContextLength);
    }

    [Fact]
    public async Task LoadedLarger_IsLeftAlone()
    {
        await using var proxy = await StartAsync(Model(loaded: 65536));

        var outcome = await EnsureAsync(proxy);

        Assert.Empty(proxy.Upstream.CallLog(includeDiscovery: false));
        Assert.Equal(65536, outcome!.LoadedContext);
        Assert.Null(outcome.LoadDuration);
    }

    [Fact]
    public async Task ConcurrentFirstRequests_WaitOnOneLoad()
    {
        await using var proxy = await StartAsync(Model(loaded: null));
        proxy.Upstream.LoadDelay = TimeSpan.FromMilliseconds(500);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => EnsureAsync(proxy)));

        Print("Five concurrent first requests:", proxy.Upstream);
        Assert.Single(proxy.Upstream.Requests, r => r.Path == "/api/v1/models/load");
        Assert.All(outcomes, o => Assert.Equal(32768, o!.LoadedContext));
    }

    [Fact]
    public async Task NumCtx_AboveTheFloor_LoadsWithIt_CappedAtTheMaximum()
    {
        await using var proxy = await StartAsync(Model(loaded: 32768, max: 65536));

        var outcome = await EnsureAsync(proxy, numCtx: 100000);

        Assert.Equal(65536, outcome!.LoadedContext);
        Assert.Equal(65536, (int)proxy.Upstream.Requests.Single(r => r.Path == "/api/v1/models/load").Json!["context_length"]!);
    }

    [Fact]
    public async Task FailedLoad_SaysLmStudiosReasonAndTheFix()
    {
        await using var proxy = await StartAsync(Model(loaded: null));
        proxy.Upstream.LoadFailure = "Failed to load model: insufficient GPU memory for a 32768-token KV cache";

        var failure = await Assert.ThrowsAsync<UpstreamException>(() => EnsureAsync(proxy));

        Assert.Contains($"could not load {Key} with a 32768-token context", failure.Message, StringComparison.Ordinal);
        Assert.Contains("insufficient GPU memory", failure.Message, StringComparison.Ordinal);
        Assert.Contains("MIN_CONTEXT_LENGTH", failure.Message, StringComparison.Ordinal);
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmbeddingModelsAndFloorOff_AreLeftToLmStudio()
    {
        await using var proxy = await StartAsync(Model(loaded: 4096), floor: 0);

        var outcome = await EnsureAsync(proxy);

        Assert.Null(outcome);
        Assert.Empty(proxy.Upstream.CallLog(includeDiscovery: false));
    }

    [Fact]
    public async Task OllamaExplicitLoad_UsesTheFloor()
    {
        await using var proxy = await StartAsync(Model(loaded: null));

        using var response = await proxy.Ollama.PostAsJsonAsync("api/generate", new { model = Key });

        response.EnsureSuccessStatusCode();
        Assert.Equal(32768, (int)proxy.Upstream.Requests.Single(r => r.Path == "/api/v1/models/load").Json!["context_length"]!);
    }

    [Fact]
    public async Task RequestsSecondsApart_ListLmStudiosModelsOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await StartAsync(Model(loaded: 65536), time: time);

        await EnsureAsync(proxy);
        var before = Lists(proxy);
        time.Advance(ModelLifecycle.VerifiedFor - TimeSpan.FromSeconds(1));
        var outcome = await EnsureAsync(proxy);

        Assert.Equal(before, Lists(proxy));
        Assert.Equal(65536, outcome!.LoadedContext);
        Assert.Null(outcome.LoadDuration);
    }

    [Fact]
    public async Task ModelReloadedSmallerInLmStudio_IsReloadedWithTheFloorOnceTheVerdictIsOld()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await StartAsync(Model(loaded: 65536), time: time);
        await EnsureAsync(proxy);

        ReloadInLmStudio(proxy, 4096);
        time.Advance(ModelLifecycle.VerifiedFor);
        var outcome = await EnsureAsync(proxy);

        Print("Reloaded at 4096 in LM Studio after the first request:", proxy.Upstream);
        Assert.Equal(32768, outcome!.LoadedContext);
        Assert.Equal(32768, proxy.Upstream.ModelsSnapshot().Single().LoadedContextLength);
    }

    [Fact]
    public async Task NumCtxAboveWhatWasVerified_ChecksAndReloadsAtOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await StartAsync(Model(loaded: 32768), time: time);
        await EnsureAsync(proxy);

        var outcome = await EnsureAsync(proxy, numCtx: 65536);

        Assert.Equal(65536, outcome!.LoadedContext);
        Assert.Equal(65536, (int)proxy.Upstream.Requests.Single(r => r.Path == "/api/v1/models/load").Json!["context_length"]!);
    }

    [Fact]
    public async Task UnloadThroughTheProxy_MakesTheNextRequestLoadAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await StartAsync(Model(loaded: 65536), time: time);
        await EnsureAsync(proxy);

        using var unload = await proxy.Ollama.PostAsJsonAsync("api/generate", new { model = Key, keep_alive = 0 });
        unload.EnsureSuccessStatusCode();
        var outcome = await EnsureAsync(proxy);

        var calls = proxy.Upstream.CallLog(includeDiscovery: false);
        Assert.StartsWith("POST /api/v1/models/unload", calls[^2], StringComparison.Ordinal);
        Assert.Equal($$"""POST /api/v1/models/load {"model":"{{Key}}","context_length":32768}""", calls[^1]);
        Assert.Equal(32768, outcome!.LoadedContext);
        Assert.NotNull(outcome.LoadDuration);
    }

    [Fact]
    public async Task PromptOverflowingAModelReloadedSmaller_MakesTheNextRequestCheckAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var proxy = await StartAsync(Model(loaded: 65536), time: time);
        await EnsureAsync(proxy);
        ReloadInLmStudio(proxy, 4096);

        // The verdict (65536) is still fresh, so this request goes out unchecked and overflows the 4096-token reload.
        using var overflowed = await proxy.Ollama.PostAsJsonAsync("v1/chat/completions",
            new { model = Key, messages = new[] { new { role = "user", content = new string('a', 20000) } } });
        var explanation = await overflowed.Content.ReadAsStringAsync();
        var outcome = await EnsureAsync(proxy);

        Assert.False(overflowed.IsSuccessStatusCode, explanation);
        Assert.Contains("loaded with a context of only 4096 tokens", explanation, StringComparison.Ordinal);
        Assert.Equal(32768, outcome!.LoadedContext);
        Assert.Equal(32768, proxy.Upstream.ModelsSnapshot().Single().LoadedContextLength);
    }
}
