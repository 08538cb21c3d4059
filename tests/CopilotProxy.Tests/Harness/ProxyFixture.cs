using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CopilotProxy.Configuration;
using CopilotProxy.Hosting;
using CopilotProxy.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Harness;

/// <summary>
/// The real proxy on Kestrel at 127.0.0.1:0 in front of a <see cref="FakeLmStudio"/>, also on real sockets, so tests see
/// flushing, chunking and aborts exactly as clients do.
/// </summary>
public sealed class ProxyFixture : IAsyncDisposable
{
    private ProxyFixture(FakeLmStudio upstream, WebApplication app, ProxySettings settings)
    {
        Upstream = upstream;
        App = app;
        Settings = settings;
        var bindings = app.Services.GetRequiredService<FrontDoorBindings>();
        OllamaUrl = new Uri($"http://127.0.0.1:{bindings.OllamaPort}/");
        GatewayUrl = new Uri($"http://127.0.0.1:{bindings.GatewayPort}/");
        Ollama = new HttpClient { BaseAddress = OllamaUrl, Timeout = TimeSpan.FromSeconds(30) };
        Gateway = new HttpClient { BaseAddress = GatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public FakeLmStudio Upstream { get; }
    public WebApplication App { get; }
    public ProxySettings Settings { get; }
    public Uri OllamaUrl { get; }
    public Uri GatewayUrl { get; }

    /// <summary>A client of the Ollama front door (where Copilot talks).</summary>
    public HttpClient Ollama { get; }

    /// <summary>A client of the OpenAI gateway.</summary>
    public HttpClient Gateway { get; }

    /// <summary>Starts a fake LM Studio with the given models, then the proxy in front of it.</summary>
    public static async Task<ProxyFixture> StartAsync(
        IEnumerable<FakeModel>? models = null,
        FakeApiLevel apiLevel = FakeApiLevel.V1,
        Func<ProxySettings, ProxySettings>? configure = null,
        GatewayConfig? config = null,
        TimeProvider? time = null)
    {
        var upstream = await FakeLmStudio.StartAsync(apiLevel);
        upstream.Models.AddRange(models ?? [FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384)]);
        return await StartAsync(upstream, configure, config, time);
    }

    /// <summary>
    /// Starts the proxy in front of an already running fake (or a URL nobody listens on), with config.yaml as given (null: none).
    /// <paramref name="time"/> replaces the proxy's clock, so a test can move timers, retries and cooldowns forward instead of sleeping.
    /// </summary>
    public static async Task<ProxyFixture> StartAsync(
        FakeLmStudio upstream, Func<ProxySettings, ProxySettings>? configure = null, GatewayConfig? config = null, TimeProvider? time = null)
    {
        var settings = new ProxySettings
        {
            LmStudioUrl = upstream.BaseUrl,
            OllamaPort = 0,
            GatewayPort = 0,
            Host = "127.0.0.1",
            LogLevel = LogLevel.Warning,
            DevMode = true,
            // Off unless a test turns it on: most tests are about other features and assert LM Studio's numbers as the
            // fake reports them; tests/CopilotProxy.Tests/Loading covers the floor.
            MinContextLength = 0,
            // Each proxy gets its own key database, never the user's real one.
            DataDir = Path.Combine(Path.GetTempPath(), "copilot-proxy-tests", Guid.NewGuid().ToString("n")),
        };
        settings = configure?.Invoke(settings) ?? settings;
        var app = ProxyApp.Build(settings, config, time);
        await app.StartAsync();
        return new ProxyFixture(upstream, app, settings);
    }

    /// <summary>POSTs JSON the way Copilot does, including its empty bearer token.</summary>
    public static HttpRequestMessage CopilotPost(string path, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer ");
        return request;
    }

    /// <summary>The upstream requests that went to a path, in order.</summary>
    public List<RecordedRequest> UpstreamRequests(string path) => [.. Upstream.Requests.Where(r => r.Path == path)];

    /// <summary>The JSON body of the last upstream request to a path.</summary>
    public JsonObject LastUpstreamBody(string path) => UpstreamRequests(path)[^1].Json!.AsObject();

    public static Task<HttpResponseMessage> SendStreamingAsync(HttpClient client, HttpRequestMessage request) =>
        client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

    public async ValueTask DisposeAsync()
    {
        Ollama.Dispose();
        Gateway.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}

/// <summary>Request bodies shaped like Copilot's (docs/protocol.md §1.3).</summary>
public static class CopilotRequests
{
    public const string WeatherTool =
        """{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}""";

    public static string Chat(string model, bool stream = true, bool tools = true) =>
        $$"""{"model":"{{model}}","messages":[{"role":"system","content":"You are Copilot."},{"role":"user","content":"Weather in Paris?"}],"temperature":0.1,"top_p":1,"n":1,"stream":{{(stream ? "true" : "false")}}{{(stream ? ",\"stream_options\":{\"include_usage\":true}" : "")}}{{(tools ? ",\"tools\":[" + WeatherTool + "]" : "")}}}""";
}
