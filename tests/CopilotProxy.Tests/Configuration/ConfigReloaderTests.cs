using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CopilotProxy.Tests.Configuration;

/// <summary>HOT_RELOAD: edits to config.yaml apply without a restart; an invalid edit never replaces a good configuration.</summary>
public sealed class ConfigReloaderTests : IDisposable
{
    private const string Key = "qwen/qwen3-8b";
    private readonly string _directory = Directory.CreateTempSubdirectory("copilot-proxy-reload-").FullName;

    private string ConfigPath => Path.Combine(_directory, "config.yaml");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<ProxyFixture> StartAsync(string yaml)
    {
        await File.WriteAllTextAsync(ConfigPath, yaml);
        var loaded = GatewayConfigLoader.Load(new ConfigFileLocation(ConfigPath, IsExplicit: true), _ => null);
        Assert.True(loaded.Succeeded, string.Join('\n', loaded.Errors));
        return await ProxyFixture.StartAsync([FakeModel.Llm(Key)], configure: s => s with { HotReload = true }, config: loaded.Config);
    }

    private static string Aliases(params string[] names) =>
        "model_list:\n" + string.Concat(names.Select(n => $"  - model_name: {n}\n    litellm_params:\n      model: openai/{Key}\n"));

    private static async Task<IReadOnlyList<string>> TagsAsync(ProxyFixture proxy)
    {
        using var json = JsonDocument.Parse(await proxy.Ollama.GetStringAsync("api/tags"));
        return [.. json.RootElement.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()!)];
    }

    /// <summary>Asks until the condition holds; the reloader polls the file once a second.</summary>
    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    [Fact]
    public async Task ValidEdit_AppliesWithoutARestart()
    {
        await using var proxy = await StartAsync(Aliases("coder"));
        Assert.Contains("coder:latest", await TagsAsync(proxy));

        await File.WriteAllTextAsync(ConfigPath, Aliases("coder", "writer"));

        Assert.True(await EventuallyAsync(async () => (await TagsAsync(proxy)).Contains("writer:latest")), "the new alias never appeared");
    }

    [Fact]
    public async Task InvalidEdit_IsRejected_AndTheLastGoodConfigStaysInForce()
    {
        await using var proxy = await StartAsync(Aliases("coder"));
        await File.WriteAllTextAsync(ConfigPath, "model_list:\n  - model_name: [broken\n");

        var applied = proxy.App.Services.GetRequiredService<ConfigReloader>().Reload(ConfigPath);

        Assert.False(applied);
        Assert.Contains("coder:latest", await TagsAsync(proxy));
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "still served")));
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat("coder")));
        Assert.Equal("still served", (await CopilotSseParser.ParseAsync(response)).Text);
    }

    [Fact]
    public async Task GatewayKeyEdit_TakesEffectOnTheNextRequest()
    {
        await using var proxy = await StartAsync(Aliases("coder") + "general_settings:\n  master_key: first\n");
        await File.WriteAllTextAsync(ConfigPath, Aliases("coder") + "general_settings:\n  master_key: second\n");
        Assert.True(proxy.App.Services.GetRequiredService<ConfigReloader>().Reload(ConfigPath));

        using var old = new HttpRequestMessage(HttpMethod.Get, "v1/models") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "first") } };
        using var current = new HttpRequestMessage(HttpMethod.Get, "v1/models") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "second") } };

        Assert.Equal(HttpStatusCode.Unauthorized, (await proxy.Gateway.SendAsync(old)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await proxy.Gateway.SendAsync(current)).StatusCode);
    }

    [Fact]
    public async Task WithoutHotReload_EditsWaitForARestart()
    {
        await File.WriteAllTextAsync(ConfigPath, Aliases("coder"));
        var loaded = GatewayConfigLoader.Load(new ConfigFileLocation(ConfigPath, IsExplicit: true), _ => null);
        var time = new FakeTimeProvider();
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key)], configure: s => s with { HotReload = false }, config: loaded.Config, time: time);

        await File.WriteAllTextAsync(ConfigPath, Aliases("coder", "writer"));
        // Three poll intervals on the proxy's clock: a reloader that ignored HOT_RELOAD=false would have looked three times.
        time.Advance(ConfigReloader.PollInterval * 3);

        Assert.DoesNotContain("writer:latest", await TagsAsync(proxy));
    }
}
