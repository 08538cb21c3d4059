using System.Text;
using System.Text.Json.Nodes;
using CopilotProxy.Configuration;
using CopilotProxy.Hosting;
using CopilotProxy.Http;
using CopilotProxy.Tests.Harness;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Ollama;

/// <summary>The real proxy app on 127.0.0.1:0 in front of a fake LM Studio, both over real sockets.</summary>
internal sealed class OllamaProxy : IAsyncDisposable
{
    public const string Qwen = "qwen/qwen3-8b";
    public const string Gemma = "google/gemma-3-12b";
    public const string Nomic = "text-embedding-nomic-embed-text-v1.5";

    private readonly WebApplication _app;

    private OllamaProxy(FakeLmStudio fake, WebApplication app, Uri baseUrl)
    {
        Fake = fake;
        _app = app;
        BaseUrl = baseUrl;
        Client = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public FakeLmStudio Fake { get; }

    public Uri BaseUrl { get; }

    public HttpClient Client { get; }

    /// <summary>
    /// Qwen: loaded, tools, vision, reasoning. Gemma: not loaded, no tool training. Nomic: a loaded embedding model.
    /// </summary>
    public static async Task<OllamaProxy> StartAsync(FakeApiLevel level = FakeApiLevel.V1)
    {
        var fake = await FakeLmStudio.StartAsync(level);
        fake.Models.Add(FakeModel.Llm(Qwen, loadedContextLength: 16384, reasoning: true, vision: true));
        fake.Models.Add(new FakeModel(Gemma, DisplayName: "Gemma 3 12B", TrainedForToolUse: false));
        fake.Models.Add(FakeModel.Embedding(Nomic));
        var settings = new ProxySettings
        {
            LmStudioUrl = fake.BaseUrl,
            OllamaPort = 0,
            GatewayPort = 0,
            LogLevel = LogLevel.Warning,
            DevMode = true,
            UpstreamIdleTimeout = TimeSpan.FromSeconds(20),
            // The context floor has its own tests (tests/CopilotProxy.Tests/Loading); here LM Studio's numbers stay as the fake reports them.
            MinContextLength = 0,
        };
        var app = ProxyApp.Build(settings);
        await app.StartAsync();
        var port = app.Services.GetRequiredService<FrontDoorBindings>().OllamaPort;
        return new OllamaProxy(fake, app, new Uri($"http://127.0.0.1:{port}"));
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>The upstream requests that went to a path, in order.</summary>
    public List<RecordedRequest> UpstreamRequests(string path) => [.. Fake.Requests.Where(r => r.Path == path)];

    public JsonObject LastUpstreamBody(string path) => UpstreamRequests(path)[^1].Json!.AsObject();

    public static List<JsonObject> ParseLines(string ndjson) =>
        [.. ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject())];

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Fake.DisposeAsync();
    }
}
