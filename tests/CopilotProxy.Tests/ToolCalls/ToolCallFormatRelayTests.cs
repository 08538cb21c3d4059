using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.ToolCalls;

/// <summary>
/// Every format, end to end: the fake LM Studio streams the model's text in tokenizer-sized pieces, the real proxy relays
/// it on both front doors, and Copilot's own SSE rules parse what arrives: one real call, no text, finish_reason tool_calls.
/// </summary>
public sealed class ToolCallFormatRelayTests
{
    private const string Key = "qwen/qwen3-8b";
    private const string ClientModel = "qwen/qwen3-8b:latest";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> Forms => new()
    {
        { "hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}\n</tool_call>" },
        { "qwen3-coder", "<tool_call>\n<function=get_weather>\n<parameter=city>\nZürich\n</parameter>\n</function>\n</tool_call>" },
        { "seed-oss", "<seed:tool_call>\n<function=get_weather>\n<parameter=city>Zürich</parameter>\n</function>\n</seed:tool_call>" },
        { "glm", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Zürich</arg_value>\n</tool_call>" },
        { "mistral", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Zürich\"}" },
        { "llama3", "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\"}}" },
        { "pythonic", "[get_weather(city='Zürich')]" },
        { "deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Zürich\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>" },
        { "kimi-k2", "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Zürich\"}<|tool_call_end|><|tool_calls_section_end|>" },
        { "minimax-m2", "<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">Zürich</parameter>\n</invoke>\n</minimax:tool_call>" },
        { "harmony", "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Zürich\"}<|call|>" },
        { "granite", "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}]" },
        { "phi4-mini", "functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}]" },
        { "gemma4", "<|tool_call>call:get_weather{city:<|\"|>Zürich<|\"|>}<tool_call|>" },
        { "json", "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}" },
    };

    private static async Task<ProxyFixture> StartAsync(string reply, string? toolCallFormat = null)
    {
        var config = toolCallFormat is null ? null : Config($"""
            model_list:
              - model_name: {Key}
                litellm_params:
                  model: openai/{Key}
                model_info:
                  tool_call_format: {toolCallFormat}
            """);
        var proxy = await ProxyFixture.StartAsync(config: config);
        proxy.Upstream.DefaultReply = reply;
        // Pieces of about a token, so markers and arguments arrive cut as a model's tokens cut them.
        proxy.Upstream.ReplyTokenizer = text => LmStudioTokens.Split(text, specialTokens: false);
        return proxy;
    }

    private static async Task<CopilotTurn> CopilotChatAsync(ProxyFixture proxy, string door)
    {
        var client = door == "ollama" ? proxy.Ollama : proxy.Gateway;
        using var response = await ProxyFixture.SendStreamingAsync(client, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(ClientModel)));
        return await CopilotSseParser.ParseAsync(response, Ct);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task EveryFormat_CopilotRunsTheCall_OnBothFrontDoors(string format, string content)
    {
        await using var proxy = await StartAsync(content);

        foreach (var door in new[] { "ollama", "gateway" })
        {
            var turn = await CopilotChatAsync(proxy, door);

            Assert.Null(turn.Error);
            Assert.Equal("", turn.Text);
            Assert.Equal("tool_calls", turn.FinishReason);
            var call = Assert.Single(turn.ToolCalls);
            Assert.Equal("get_weather", call.Name);
            Assert.True(call.ArgumentsValid, $"{format}: {call.RawArguments}");
            Assert.Equal("Zürich", call.Arguments.GetProperty("city").GetString());
            Assert.Empty(turn.Anomalies);
            Assert.Empty(turn.Malformed);
        }

        var metrics = await proxy.Gateway.GetStringAsync("metrics", Ct);
        var line = Assert.Single(metrics.Split('\n'), l => l.StartsWith("copilot_proxy_tool_call_repairs_total{", StringComparison.Ordinal));
        Assert.Contains($"format=\"{format}\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelSetToOneFormat_LeavesAnotherFormatAsText()
    {
        const string gemma = "<|tool_call>call:get_weather{city:<|\"|>Zürich<|\"|>}<tool_call|>";
        await using var proxy = await StartAsync(gemma, toolCallFormat: "mistral");

        var turn = await CopilotChatAsync(proxy, "gateway");

        Assert.Equal(gemma, turn.Text);
        Assert.Empty(turn.ToolCalls);
    }

    [Fact]
    public async Task ModelSetToOff_ItsAnswerStaysText()
    {
        const string mistral = "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Zürich\"}";
        await using var proxy = await StartAsync(mistral, toolCallFormat: "off");

        var turn = await CopilotChatAsync(proxy, "ollama");

        Assert.Equal(mistral, turn.Text);
        Assert.Empty(turn.ToolCalls);
    }

    [Fact]
    public void UnknownFormatName_StopsTheConfig_WithAnErrorNamingTheValidOnes()
    {
        var result = CopilotProxy.Configuration.GatewayConfigLoader.Parse($"""
            model_list:
              - model_name: {Key}
                litellm_params:
                  model: openai/{Key}
                model_info:
                  tool_call_format: qwen4
            """, "config.yaml", _ => null);

        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors).ToString();
        Assert.Contains("tool_call_format", error, StringComparison.Ordinal);
        Assert.Contains("qwen4", error, StringComparison.Ordinal);
        Assert.Contains("auto, off, hermes, qwen3-coder", error, StringComparison.Ordinal);
    }
}
