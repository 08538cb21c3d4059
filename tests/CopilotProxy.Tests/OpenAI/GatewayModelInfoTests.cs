using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>Model metadata where gateway clients look for it: LiteLLM's /v1/models limits and /model/info.</summary>
public sealed class GatewayModelInfoTests
{
    private static readonly FakeModel[] Models =
    [
        FakeModel.Llm(Key, loadedContextLength: 16384, reasoning: true),
        FakeModel.Llm("tiny/tiny-1b", loadedContextLength: 2048, vision: true),
        FakeModel.Embedding("nomic-embed"),
    ];

    [Fact]
    public async Task Models_CarryContextLimitsAndCapabilities_InputPlusOutputNeverExceedsTheContext()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models);

        var answer = await SendAsync(proxy.Gateway, Get("v1/models"));

        var data = answer.Body.GetProperty("data").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        var qwen = data[Key];
        Assert.Equal(16384, qwen.GetProperty("context_length").GetInt32());
        Assert.Equal(12288, qwen.GetProperty("max_input_tokens").GetInt32());
        Assert.Equal(4096, qwen.GetProperty("max_output_tokens").GetInt32());
        Assert.Equal(["completion", "tools", "thinking"], Strings(qwen.GetProperty("capabilities")));
        var tiny = data["tiny/tiny-1b"];
        // Below 4096 tokens of context Copilot's rule gives half to the answer.
        Assert.Equal(1024, tiny.GetProperty("max_output_tokens").GetInt32());
        Assert.Equal(1024, tiny.GetProperty("max_input_tokens").GetInt32());
        Assert.Contains("vision", Strings(tiny.GetProperty("capabilities")));
        Assert.Equal(["embedding"], Strings(data["nomic-embed"].GetProperty("capabilities")));
    }

    [Theory]
    [InlineData("model/info")]
    [InlineData("v1/model/info")]
    public async Task ModelInfo_ListsEachDeploymentWithLiteLLMsFields(string path)
    {
        await using var proxy = await ProxyFixture.StartAsync(Models, config: Config($"""
            model_list:
              - model_name: coder
                litellm_params:
                  model: openai/{Key}
              - model_name: coder
                litellm_params:
                  model: openai/tiny/tiny-1b
              - model_name: embedder
                litellm_params:
                  model: openai/nomic-embed
                model_info:
                  mode: embedding
            """));

        var answer = await SendAsync(proxy.Gateway, Get(path));

        Assert.Equal(200, answer.Status);
        var entries = answer.Body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["coder", "coder", "embedder"], entries.Select(e => e.GetProperty("model_name").GetString()));
        Assert.Equal($"openai/{Key}", entries[0].GetProperty("litellm_params").GetProperty("model").GetString());
        Assert.Equal("openai/tiny/tiny-1b", entries[1].GetProperty("litellm_params").GetProperty("model").GetString());
        var info = entries[0].GetProperty("model_info");
        Assert.Equal(12288, info.GetProperty("max_input_tokens").GetInt32());
        Assert.Equal(4096, info.GetProperty("max_output_tokens").GetInt32());
        Assert.True(info.GetProperty("supports_function_calling").GetBoolean());
        Assert.False(info.GetProperty("supports_vision").GetBoolean());
        Assert.True(info.GetProperty("supports_reasoning").GetBoolean());
        Assert.Equal("chat", info.GetProperty("mode").GetString());
        Assert.Equal("embedding", entries[2].GetProperty("model_info").GetProperty("mode").GetString());
        Assert.DoesNotContain("api_key", answer.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelInfo_NeedsTheGatewayKeyLikeTheOtherModelRoutes()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models, configure: s => s with { ApiKey = "sk-gw" });

        var without = await SendAsync(proxy.Gateway, Get("model/info"));
        var with = await SendAsync(proxy.Gateway, Get("model/info", bearer: "sk-gw"));

        Assert.Equal(401, without.Status);
        Assert.Equal(200, with.Status);
    }

    [Theory]
    [InlineData(32768, null, 28672, 4096)]
    [InlineData(4096, null, 2048, 2048)]
    [InlineData(5000, null, 2500, 2500)]
    [InlineData(8192, null, 4096, 4096)]
    [InlineData(4095, null, 2048, 2047)]
    [InlineData(2048, null, 1024, 1024)]
    [InlineData(32768, 8192, 24576, 8192)]
    [InlineData(8192, 8192, 4096, 4096)]
    [InlineData(8192, 6000, 4096, 4096)]
    public void TokenBudget_SplitsLikeCopilot(int context, int? configuredOutput, int input, int output)
    {
        var budget = TokenBudget.Of(context, configuredOutput);
        Assert.Equal((context, input, output), (budget.ContextLength, budget.MaxInputTokens, budget.MaxOutputTokens));
    }

    private static List<string> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
