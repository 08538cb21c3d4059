using System.Net;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Ollama.OllamaFixture;

namespace CopilotProxy.Tests.Ollama;

/// <summary>The OpenAI-compatible routes real Ollama serves on its own port, so tools pointed at :11434/v1 find them.</summary>
public sealed class OllamaOpenAIRoutesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Completions_ReachTheUpstreamAsItsOwnKey_AndAnswerUnderTheTaggedName()
    {
        await using var proxy = await StartAsync();

        using var response = await proxy.Ollama.PostAsync("/v1/completions", Json($$"""{"model":"{{Qwen}}:latest","prompt":"def add(a, b):","max_tokens":16}"""), Ct);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text_completion", (string?)body["object"]);
        Assert.Equal(proxy.Upstream.DefaultReply, (string?)body["choices"]![0]!["text"]);
        Assert.Equal($"{Qwen}:latest", (string?)body["model"]);
        Assert.Equal(Qwen, proxy.LastUpstreamBody("/v1/completions")["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task Embeddings_AnswerOpenAIsListShape()
    {
        await using var proxy = await StartAsync();

        using var response = await proxy.Ollama.PostAsync("/v1/embeddings", Json($$"""{"model":"{{Nomic}}","input":["a","b"],"encoding_format":"float"}"""), Ct);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("list", (string?)body["object"]);
        Assert.Equal(2, body["data"]!.AsArray().Count);
        Assert.Equal("embedding", (string?)body["data"]![1]!["object"]);
        Assert.Equal(1, (int?)body["data"]![1]!["index"]);
    }

    [Fact]
    public async Task ModelById_EchoesTheAskedName_404InOpenAIShapeWhenUnknown()
    {
        await using var proxy = await StartAsync();

        using var found = await proxy.Ollama.GetAsync($"/v1/models/{Qwen}:latest", Ct);
        var card = JsonNode.Parse(await found.Content.ReadAsStringAsync(Ct))!;
        using var missing = await proxy.Ollama.GetAsync("/v1/models/nope:7b", Ct);
        var error = JsonNode.Parse(await missing.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Equal($"{Qwen}:latest", (string?)card["id"]);
        Assert.Equal("model", (string?)card["object"]);
        Assert.Equal("library", (string?)card["owned_by"]);
        Assert.True((long?)card["created"] > 0);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found_error", (string?)error["error"]!["type"]);
    }
}
