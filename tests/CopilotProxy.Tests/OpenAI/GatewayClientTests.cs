using System.ClientModel;
using CopilotProxy.Tests.Harness;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>The official OpenAI .NET SDK against the gateway, with the key from config.yaml: what "works with any OpenAI client" means.</summary>
public sealed class GatewayClientTests
{
    private static readonly string KeyedAliasConfig = $"""
        model_list:
          - model_name: coder
            litellm_params:
              model: openai/{Key}
          - model_name: embedder
            litellm_params:
              model: openai/nomic-embed
            model_info:
              mode: embedding
        general_settings:
          master_key: sk-gateway
        """;

    private static OpenAIClientOptions Options(ProxyFixture proxy) => new() { Endpoint = new Uri(proxy.GatewayUrl, "v1") };

    [Fact]
    public async Task OpenAIDotNet_ListsModelsChatsAndStreamsWithTheConfiguredKey()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key), FakeModel.Embedding("nomic-embed")], config: Config(KeyedAliasConfig));
        proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "Hello", " there")));
        var credential = new ApiKeyCredential("sk-gateway");
        var chat = new ChatClient("coder", credential, Options(proxy));
        var models = new OpenAIModelClient(credential, Options(proxy));

        var listed = (await models.GetModelsAsync()).Value.Select(m => m.Id).ToList();
        var text = new System.Text.StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("hi")]);

        Assert.Equal(["coder", "embedder"], listed);
        Assert.Equal("Hello there", text.ToString());
        Assert.Equal("coder", completion.Model);
        Assert.False(string.IsNullOrEmpty(completion.Content[0].Text));
        Assert.All(proxy.Upstream.Requests.Where(r => r.Path == "/v1/chat/completions"), r => Assert.Equal(Key, r.Model));
    }

    [Fact]
    public async Task OpenAIDotNet_EmbedsThroughTheGateway_DecodingTheSameFloatsTheUpstreamSent()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(Key), FakeModel.Embedding("nomic-embed")], config: Config(KeyedAliasConfig));
        var client = new EmbeddingClient("embedder", new ApiKeyCredential("sk-gateway"), Options(proxy));

        OpenAIEmbedding embedding = await client.GenerateEmbeddingAsync("hello");
        var reference = await SendAsync(proxy.Gateway, Post("v1/embeddings", """{"model":"embedder","input":"hello","encoding_format":"float"}""", bearer: "sk-gateway"));

        var expected = reference.Body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(expected, embedding.ToFloats().ToArray());
        Assert.All(proxy.Upstream.Requests.Where(r => r.Path == "/v1/embeddings"), r => Assert.Equal("nomic-embed", r.Model));
    }

    [Fact]
    public async Task OpenAIDotNet_WrongKey_FailsWith401()
    {
        await using var proxy = await ProxyFixture.StartAsync(config: Config(KeyedAliasConfig));
        var chat = new ChatClient("coder", new ApiKeyCredential("sk-wrong"), Options(proxy));

        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, error.Status);
    }
}
