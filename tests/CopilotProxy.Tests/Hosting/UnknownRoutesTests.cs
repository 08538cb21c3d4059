using System.Net;
using System.Text.Json.Nodes;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Hosting;

/// <summary>A path the proxy serves, called with the wrong method, is a 405 naming the right one; a path it does not serve is a 404.</summary>
public sealed class UnknownRoutesTests
{
    [Theory]
    [InlineData("GET", "api/chat", "POST")]
    [InlineData("GET", "API/Chat/", "POST")]
    [InlineData("POST", "api/tags", "GET")]
    [InlineData("PUT", "v1/chat/completions", "POST")]
    public async Task OllamaRoute_WithAnotherMethod_Is405_WithAllow_InOllamasShape(string method, string path, string allowed)
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var answer = await proxy.Ollama.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.StatusCode);
        Assert.Contains(allowed, answer.Content.Headers.Allow);
        var body = await answer.Content.ReadAsStringAsync();
        if (path.StartsWith("api/", StringComparison.OrdinalIgnoreCase) || path.StartsWith("API/", StringComparison.Ordinal))
        {
            Assert.StartsWith($"method not allowed: {method} /{path.TrimEnd('/')}", (string)JsonNode.Parse(body)!["error"]!, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task GatewayRoute_WithAnotherMethod_Is405_InOpenAIsShape()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var answer = await proxy.Gateway.GetAsync("v1/chat/completions");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.StatusCode);
        Assert.Equal(["POST"], answer.Content.Headers.Allow);
        var error = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("method_not_allowed", (string)error["code"]!);
        Assert.Equal("Method not allowed: GET /v1/chat/completions takes POST.", (string)error["message"]!);
    }

    [Fact]
    public async Task UnknownPaths_AndTheOtherDoorsRoutes_Stay404()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        using var unknown = await proxy.Ollama.GetAsync("api/nothing-here");
        using var otherDoor = await proxy.Gateway.GetAsync("api/tags");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("unknown endpoint: GET /api/nothing-here", (string)JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["error"]!);
        Assert.Equal(HttpStatusCode.NotFound, otherDoor.StatusCode);
        Assert.Empty(otherDoor.Content.Headers.Allow);
    }
}
