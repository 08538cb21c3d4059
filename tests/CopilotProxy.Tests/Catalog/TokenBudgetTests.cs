using CopilotProxy.Catalog;
using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.Catalog;

/// <summary>The prompt/answer split every client is told: never a prompt smaller than the answer, never more than the context.</summary>
public sealed class TokenBudgetTests
{
    [Fact]
    public void EveryContextFrom2To131072_GivesThePromptAtLeastTheAnswer_AndSpendsTheWholeContext()
    {
        // Exhaustive rather than sampled: the defect sat on one boundary (4096), which a sample would most likely miss.
        foreach (var configured in (int?[])[null, 1, 2048, 4096, 8192, 32768, 200_000])
        {
            for (var context = 2; context <= 131072; context++)
            {
                var budget = TokenBudget.Of(context, configured);
                if (!(budget.MaxOutputTokens > 0 && budget.MaxInputTokens >= budget.MaxOutputTokens && budget.MaxInputTokens + budget.MaxOutputTokens == context))
                {
                    Assert.Fail($"context {context}, configured output {configured?.ToString() ?? "none"}: input {budget.MaxInputTokens}, output {budget.MaxOutputTokens}");
                }
            }
        }
    }

    [Fact]
    public async Task ModelLoadedWith4096Tokens_IsListedWithHalfForThePrompt_NotZero()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("small/model-4k", loadedContextLength: 4096)]);

        var models = await SendAsync(proxy.Gateway, Get("v1/models"));
        var info = await SendAsync(proxy.Gateway, Get("model/info"));

        var listed = Assert.Single(models.Body.GetProperty("data").EnumerateArray().ToList());
        Assert.Equal((2048, 2048), (listed.GetProperty("max_input_tokens").GetInt32(), listed.GetProperty("max_output_tokens").GetInt32()));
        var entry = Assert.Single(info.Body.GetProperty("data").EnumerateArray().ToList()).GetProperty("model_info");
        Assert.Equal((2048, 2048), (entry.GetProperty("max_input_tokens").GetInt32(), entry.GetProperty("max_output_tokens").GetInt32()));
    }
}
