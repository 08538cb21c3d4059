using System.Text.Json;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.Upstream;

/// <summary>
/// An upstream that says "not supported" (501) answered correctly, so the client gets 501 in its own API's shape, not 502;
/// and the message names the upstream discovery found, not LM Studio whatever it is.
/// </summary>
public sealed class UpstreamNotSupportedTests
{
    private const string Model = "qwen3-0.6b.gguf";

    /// <summary>llama.cpp's server without <c>--embeddings</c> (tools/server: format_error_response, ERROR_TYPE_NOT_SUPPORTED).</summary>
    private const string LlamaCppNoEmbeddings =
        """{"error":{"code":501,"message":"This server does not support embeddings. Start it with `--embeddings`","type":"not_supported_error"}}""";

    [Fact]
    public async Task OpenAIEmbeddings_BehindLlamaCpp_Is501NotSupported_NamingLlamaCppsServer()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Model)], FakeApiLevel.OpenAIOnly);
        proxy.Upstream.Enqueue(FakeResponse.Json(501, LlamaCppNoEmbeddings));

        var answer = await SendAsync(proxy.Gateway, Post("v1/embeddings", $$"""{"model":"{{Model}}","input":"hello"}"""));

        Assert.Equal(501, answer.Status);
        var error = answer.Body.GetProperty("error");
        Assert.Equal("not_supported_error", error.GetProperty("type").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.StartsWith($"llama.cpp's server at {proxy.Upstream.BaseUrl}v1/embeddings answered 501: This server does not support embeddings", message, StringComparison.Ordinal);
        Assert.DoesNotContain("LM Studio", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OllamaEmbed_BehindLlamaCpp_Is501InOllamasShape_NamingLlamaCppsServer()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Model)], FakeApiLevel.OpenAIOnly);
        proxy.Upstream.Enqueue(FakeResponse.Json(501, LlamaCppNoEmbeddings));

        using var response = await proxy.Ollama.PostAsync("api/embed", new StringContent($$"""{"model":"{{Model}}","input":"hello"}"""), TestContext.Current.CancellationToken);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));

        Assert.Equal(501, (int)response.StatusCode);
        var message = body.RootElement.GetProperty("error").GetString()!;
        Assert.StartsWith("llama.cpp's server at ", message, StringComparison.Ordinal);
        Assert.Contains("does not support embeddings", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnthropicMessages_UpstreamSays501_Is501InAnthropicsShape_NamingLmStudio()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key)]);
        proxy.Upstream.Enqueue(FakeResponse.ErrorString(501, "image input is not supported by this model"));

        var answer = await SendAsync(proxy.Gateway, Post("v1/messages",
            $$"""{"model":"{{Key}}","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.Equal(501, answer.Status);
        Assert.Equal("error", answer.Body.GetProperty("type").GetString());
        var message = answer.Body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.StartsWith($"LM Studio at {proxy.Upstream.BaseUrl}v1/messages answered 501: image input is not supported", message, StringComparison.Ordinal);
    }
}
