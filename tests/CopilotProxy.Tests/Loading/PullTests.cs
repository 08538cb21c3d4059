using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Loading;

/// <summary>/api/pull of a model LM Studio does not have: LM Studio's download, streamed as Ollama's pull progress.</summary>
public sealed class PullTests
{
    private const string Key = "qwen/qwen3-4b";

    private static async Task<ProxyFixture> StartAsync()
    {
        var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384)]);
        proxy.Upstream.Downloadable.Add(FakeModel.Llm(Key, loadedContextLength: null) with { SizeBytes = 2_500_000_000 });
        return proxy;
    }

    private static async Task<(HttpStatusCode Status, List<JsonObject> Lines)> PullAsync(ProxyFixture proxy, string json)
    {
        using var response = await proxy.Ollama.PostAsync("api/pull", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, [.. body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject())]);
    }

    [Fact]
    public async Task Pull_StreamsLmStudiosDownloadAsOllamaProgress_ThenTheModelIsListed()
    {
        await using var proxy = await StartAsync();

        var (status, lines) = await PullAsync(proxy, $$"""{"model":"{{Key}}"}""");
        using var tags = await proxy.Ollama.GetAsync("api/tags");
        var names = (await tags.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()).ToList();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("pulling manifest", (string?)lines[0]["status"]);
        var progress = lines.Where(l => ((string?)l["status"])!.StartsWith("downloading", StringComparison.Ordinal)).ToList();
        Assert.True(progress.Count >= 2, string.Join('\n', lines));
        Assert.All(progress, p => Assert.Equal(2_500_000_000, (long)p["total"]!));
        Assert.All(progress, p => Assert.StartsWith("sha256:", (string?)p["digest"], StringComparison.Ordinal));
        var completed = progress.Select(p => (long)p["completed"]!).ToList();
        Assert.Equal(completed.Order(), completed);
        Assert.Equal(2_500_000_000, completed[^1]);
        Assert.Equal("success", (string?)lines[^1]["status"]);
        Assert.Contains($"{Key}:latest", names);
        Assert.Equal(1, proxy.Upstream.CountOf("/api/v1/models/download"));
    }

    [Fact]
    public async Task Pull_StreamFalse_WaitsAndAnswersOnce()
    {
        await using var proxy = await StartAsync();

        var (status, lines) = await PullAsync(proxy, $$"""{"model":"{{Key}}","stream":false}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var line = Assert.Single(lines);
        Assert.Equal("success", (string?)line["status"]);
        Assert.Contains(proxy.Upstream.ModelsSnapshot(), m => m.Key == Key);
    }

    [Fact]
    public async Task Pull_FailedDownload_EndsWithAnErrorLine()
    {
        await using var proxy = await StartAsync();
        proxy.Upstream.DownloadFailure = "disk full";

        var (status, lines) = await PullAsync(proxy, $$"""{"model":"{{Key}}"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("pulling manifest", (string?)lines[0]["status"]);
        var error = (string?)lines[^1]["error"];
        Assert.NotNull(error);
        Assert.Contains("could not download qwen/qwen3-4b: disk full", error, StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => (string?)l["status"] == "success");
    }

    [Fact]
    public async Task Pull_NameLmStudioDoesNotKnow_AnswersItsStatusBeforeStreaming()
    {
        await using var proxy = await StartAsync();

        using var response = await proxy.Ollama.PostAsync("api/pull", new StringContent("""{"model":"llama3.2"}""", System.Text.Encoding.UTF8, "application/json"));
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("could not download llama3.2", error, StringComparison.Ordinal);
        Assert.Contains("/api/v1/models/download", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_ModelAlreadyThere_DoesNotDownload()
    {
        await using var proxy = await StartAsync();

        var (status, lines) = await PullAsync(proxy, """{"model":"qwen/qwen3-8b:latest"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("success", (string?)lines[^1]["status"]);
        Assert.Equal(0, proxy.Upstream.CountOf("/api/v1/models/download"));
    }
}
