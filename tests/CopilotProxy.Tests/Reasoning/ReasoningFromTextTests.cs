using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Tests.OpenAI;

namespace CopilotProxy.Tests.Reasoning;

/// <summary>
/// Reasoning a model wrote into its answer text reaches each client in its own field, through the real proxy: the chat
/// relay on both front doors (read with Copilot's parser), a whole completion, and Ollama's /api/chat and /api/generate.
/// </summary>
public sealed class ReasoningFromTextTests
{
    private const string Model = "qwen/qwen3-8b";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, string, string> Forms => new()
    {
        // door, what the model wrote, the reasoning, the answer
        { "gateway", "<think>\nThe user greets me.\n</think>\n\nHello! Grüße 😀", "The user greets me.\n", "Hello! Grüße 😀" },
        { "ollama", "<think>\nThe user greets me.\n</think>\n\nHello!", "The user greets me.\n", "Hello!" },
        { "gateway", "[THINK]Say hi.[/THINK]Hi.", "Say hi.", "Hi." },
        { "gateway", "<seed:think>Say hi.</seed:think>Hi.", "Say hi.", "Hi." },
        { "ollama", "<|channel|>analysis<|message|>Say \"hi\".<|end|><|start|>assistant<|channel|>final<|message|>Hi.<|return|>", "Say \"hi\".", "Hi." },
        { "gateway", "<|channel>thought\nSay hi.<channel|>Hi.", "Say hi.", "Hi." },
    };

    internal static async Task<ProxyFixture> StartAsync(string reply, bool reasoningTags = true, bool specialTokens = true)
    {
        var proxy = await ProxyFixture.StartAsync(configure: s => s with { ReasoningTags = reasoningTags });
        proxy.Upstream.DefaultReply = reply;
        proxy.Upstream.ReplyTokenizer = text => LmStudioTokens.Split(text, specialTokens);
        return proxy;
    }

    private static async Task<CopilotTurn> CopilotChatAsync(ProxyFixture proxy, string door, bool tools = false)
    {
        var client = door == "ollama" ? proxy.Ollama : proxy.Gateway;
        using var response = await ProxyFixture.SendStreamingAsync(client, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Model, tools: tools)));
        return await CopilotSseParser.ParseAsync(response, Ct);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task ReasoningWrittenAsText_CopilotShowsItAsThinking(string door, string reply, string reasoning, string answer)
    {
        await using var proxy = await StartAsync(reply, specialTokens: door == "ollama");

        var turn = await CopilotChatAsync(proxy, door);

        Assert.Null(turn.Error);
        Assert.Equal(reasoning, turn.Thinking);
        Assert.Equal(answer, turn.Text);
        Assert.Equal("stop", turn.FinishReason);
        Assert.Empty(turn.Anomalies);
        Assert.Empty(turn.Malformed);
    }

    [Fact]
    public void UnknownReasoningFormat_IsRefusedWithTheValidNames()
    {
        var result = GatewayConfigLoader.Parse($"""
            model_list:
              - model_name: {Model}
                litellm_params:
                  model: lm_studio/{Model}
                model_info:
                  reasoning_format: deepseek
            """, "config.yaml", _ => null);

        var error = Assert.Single(result.Errors).ToString();
        Assert.Contains("model_info.reasoning_format", error, StringComparison.Ordinal);
        Assert.Contains("expected one of auto, off, think, think-open, mistral, seed, harmony, gemma4, got", error, StringComparison.Ordinal);
        Assert.Contains("deepseek", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReasoningTagsOff_TextArrivesAsWritten()
    {
        const string Reply = "<think>Plan.</think>Hi.";
        await using var proxy = await StartAsync(Reply, reasoningTags: false);

        var turn = await CopilotChatAsync(proxy, "gateway");

        Assert.Equal("", turn.Thinking);
        Assert.Equal(Reply, turn.Text);
    }

    [Theory]
    [InlineData("I'll explain the <think> tag: models wrap reasoning in it.")]
    [InlineData("<thinking about it> is fine.")]
    public async Task LookAlikes_ArriveAsWritten(string reply)
    {
        await using var proxy = await StartAsync(reply, specialTokens: false);

        var turn = await CopilotChatAsync(proxy, "gateway");

        Assert.Equal("", turn.Thinking);
        Assert.Equal(reply, turn.Text);
    }

    [Fact]
    public async Task ToolCallAfterReasoning_IsStillRepaired()
    {
        await using var proxy = await StartAsync("<think>The user wants weather.</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");

        var turn = await CopilotChatAsync(proxy, "ollama", tools: true);

        Assert.Equal("The user wants weather.", turn.Thinking);
        Assert.Equal("", turn.Text);
        var call = Assert.Single(turn.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments.GetProperty("city").GetString());
        Assert.Equal("tool_calls", turn.FinishReason);
    }

    [Fact]
    public async Task WholeCompletion_HasReasoningInItsOwnFields()
    {
        await using var proxy = await StartAsync("<think>Plan: greet.</think>\n\nHello!");

        using var response = await proxy.Gateway.PostAsync("v1/chat/completions",
            new StringContent(CopilotRequests.Chat(Model, stream: false, tools: false), Encoding.UTF8, "application/json"), Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        var message = body.RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("Hello!", message.GetProperty("content").GetString());
        Assert.Equal("Plan: greet.", message.GetProperty("reasoning_content").GetString());
        Assert.Equal("Plan: greet.", message.GetProperty("reasoning_text").GetString());
    }

    [Fact]
    public async Task WholeResponsesAnswer_HasAReasoningItemBeforeTheMessage()
    {
        await using var proxy = await StartAsync("<think>Plan: greet.</think>\n\nHello!");

        using var response = await proxy.Gateway.PostAsync("v1/responses",
            new StringContent($$"""{"model":"{{Model}}","input":"hi"}""", Encoding.UTF8, "application/json"), Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        var output = body.RootElement.GetProperty("output");
        Assert.Equal("reasoning", output[0].GetProperty("type").GetString());
        Assert.Equal("Plan: greet.", output[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("message", output[1].GetProperty("type").GetString());
        Assert.Equal("Hello!", output[1].GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task WholeMessagesAnswer_HasAThinkingBlockBeforeTheText()
    {
        await using var proxy = await StartAsync("[THINK]Plan: greet.[/THINK]Hello!");

        using var response = await proxy.Gateway.PostAsync("v1/messages",
            new StringContent($$"""{"model":"{{Model}}","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"), Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        var content = body.RootElement.GetProperty("content");
        Assert.Equal(2, content.GetArrayLength());
        Assert.Equal("thinking", content[0].GetProperty("type").GetString());
        Assert.Equal("Plan: greet.", content[0].GetProperty("thinking").GetString());
        Assert.Equal("Hello!", content[1].GetProperty("text").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StreamedMessagesAnswer_HasAThinkingBlockBeforeTheText(bool tools)
    {
        await using var proxy = await StartAsync(tools
            ? "<think>\nPlan: call it.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
            : "<think>\nPlan: greet.\n</think>\n\nHello!");
        var tool = tools ? ""","tools":[{"name":"get_weather","input_schema":{"type":"object"}}]""" : "";

        using var response = await proxy.Gateway.PostAsync("v1/messages",
            new StringContent($$"""{"model":"{{Model}}","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]{{tool}}}""", Encoding.UTF8, "application/json"), Ct);
        var events = (await response.Content.ReadAsStringAsync(Ct)).Split('\n')
            .Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();

        // Blocks by index: their type at start, and the text their deltas carry.
        var blocks = new SortedDictionary<int, (string Type, StringBuilder Text)>();
        foreach (var e in events)
        {
            var type = e.GetProperty("type").GetString();
            if (type == "content_block_start")
            {
                blocks.Add(e.GetProperty("index").GetInt32(), (e.GetProperty("content_block").GetProperty("type").GetString()!, new StringBuilder()));
            }
            else if (type == "content_block_delta")
            {
                var delta = e.GetProperty("delta");
                var piece = delta.TryGetProperty("thinking", out var t) ? t : delta.TryGetProperty("text", out var x) ? x : delta.GetProperty("partial_json");
                blocks[e.GetProperty("index").GetInt32()].Text.Append(piece.GetString());
            }
        }

        Assert.Equal([0, 1], blocks.Keys);
        Assert.Equal(("thinking", tools ? "Plan: call it.\n" : "Plan: greet.\n"), (blocks[0].Type, blocks[0].Text.ToString()));
        Assert.Equal(tools ? ("tool_use", """{"city": "Paris"}""") : ("text", "Hello!"), (blocks[1].Type, blocks[1].Text.ToString()));
        Assert.Equal(2, events.Count(e => e.GetProperty("type").GetString() == "content_block_stop"));
    }

    public static TheoryData<bool, string> ResponsesSplits => new()
    {
        // tools offered, how the fake upstream cuts the text into deltas
        { false, "tokens" },
        { false, "chars" },
        { false, "whole" },
        { true, "tokens" },
        { true, "chars" },
    };

    [Theory]
    [MemberData(nameof(ResponsesSplits))]
    public async Task StreamedResponsesAnswer_HasAReasoningItemBeforeTheMessage(bool tools, string split)
    {
        const string Reasoning = "Plan: greet.\n";
        var reply = tools
            ? "<think>\nPlan: greet.\n</think>\n\nHi.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
            : "<think>\nPlan: greet.\n</think>\n\nHello! Grüße 😀";
        await using var proxy = await StartAsync(reply);
        proxy.Upstream.ReplyTokenizer = split switch
        {
            "chars" => text => [.. StringInfoElements(text)],
            "whole" => text => [text],
            _ => text => LmStudioTokens.Split(text, specialTokens: false),
        };
        var tool = tools ? ""","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]""" : "";

        using var response = await proxy.Gateway.PostAsync("v1/responses",
            new StringContent($$"""{"model":"{{Model}}","input":"hi","stream":true{{tool}}}""", Encoding.UTF8, "application/json"), Ct);
        var outcome = ResponsesOutcome.Check(await response.Content.ReadAsStringAsync(Ct));

        Assert.Equal("response.completed", outcome.Final);
        Assert.Equal(Reasoning, outcome.Reasoning);
        Assert.Equal(tools ? ["reasoning", "message", "function_call"] : ["reasoning", "message"], outcome.Items);
        Assert.Equal(tools ? "Hi.\n" : "Hello! Grüße 😀", outcome.Text);
        Assert.Equal(tools ? "get_weather" : null, outcome.Calls.SingleOrDefault()?.Name);
    }

    /// <summary>Every place a delta can end, in and around both markers, through the relay itself (no proxy per split).</summary>
    [Theory]
    [InlineData("<think>\nThe user greets me.\n</think>\n\nHello! Grüße 😀", "The user greets me.\n", "Hello! Grüße 😀")]
    [InlineData("[THINK]Say hi.[/THINK]Hi.", "Say hi.", "Hi.")]
    [InlineData("<think>Only thinking, cut off", "Only thinking, cut off", null)]
    [InlineData("Hello <think> is a tag.", null, "Hello <think> is a tag.")]
    public void StreamedResponsesAnswer_SplitAnywhere_SameItems(string reply, string? reasoning, string? answer)
    {
        var elements = StringInfoElements(reply).ToArray();
        List<string[]> splits = [elements];
        for (var i = 1; i < elements.Length; i++)
        {
            splits.Add([string.Concat(elements[..i]), string.Concat(elements[i..])]);
        }

        foreach (var tokens in splits)
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            using var splitter = new CopilotProxy.Reasoning.ReasoningSplitter(ReasoningFormats.Think | ReasoningFormats.Mistral);
            using var rewrite = new CopilotProxy.OpenAI.ResponsesReasoning(splitter);
            var relay = new CopilotProxy.OpenAI.EventStreamRelay(output, CopilotProxy.OpenAI.EventApi.Responses, Model) { Reasoning = rewrite };
            foreach (var e in LmStudioEventStreams.Responses(Model, tokens, null, 12))
            {
                relay.OnEvent(Encoding.UTF8.GetBytes(e.Data));
            }

            var outcome = ResponsesOutcome.Check(Encoding.UTF8.GetString(output.WrittenSpan));

            Assert.Equal(reasoning, outcome.Reasoning);
            Assert.Equal(answer, outcome.Text);
            Assert.Equal(reasoning is null ? ["message"] : answer is null ? ["reasoning"] : ["reasoning", "message"], outcome.Items);
        }
    }

    /// <summary>The upstream breaks inside the reasoning: the reasoning item is closed before response.failed, numbers without a gap.</summary>
    [Fact]
    public void StreamedResponsesAnswer_BrokenInsideTheReasoning_ClosesTheReasoningItemBeforeTheFailure()
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        using var rewrite = new CopilotProxy.OpenAI.ResponsesReasoning(new CopilotProxy.Reasoning.ReasoningSplitter(ReasoningFormats.Auto));
        var relay = new CopilotProxy.OpenAI.EventStreamRelay(output, CopilotProxy.OpenAI.EventApi.Responses, Model) { Reasoning = rewrite };
        var events = LmStudioEventStreams.Responses(Model, ["<think>", "Plan", ": greet.", "</thi"], null, 12);

        // The stream stops after the last delta: no .done events, no response.completed.
        foreach (var e in events.TakeWhile(e => e.Name != "response.output_text.done"))
        {
            relay.OnEvent(Encoding.UTF8.GetBytes(e.Data));
        }

        relay.WriteError("The upstream closed the stream.", "upstream_error");

        var written = CopilotProxy.Tests.OpenAI.EventApiRelayTests.ParseEvents(Encoding.UTF8.GetString(output.WrittenSpan));
        Assert.Equal(Enumerable.Range(0, written.Count).Select(i => (long)i), written.Select(e => e.Data.GetProperty("sequence_number").GetInt64()));
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.reasoning_text.delta", "response.reasoning_text.delta", "response.reasoning_text.delta", "response.reasoning_text.done", "response.content_part.done",
            "response.output_item.done", "response.failed"], written.Select(e => e.Name));
        var item = written[^2].Data.GetProperty("item");
        Assert.Equal("reasoning", item.GetProperty("type").GetString());
        // What may have begun the closing tag is reasoning too: the stream ended inside it.
        Assert.Equal("Plan: greet.</thi", item.GetProperty("content")[0].GetProperty("text").GetString());
    }

    /// <summary>Fields of the wrong JSON type where the rewrite looks (indexes, items, deltas, output): relayed, never a crash.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StreamedResponsesAnswer_OddlyTypedFields_AreRelayed_NeverThrow(bool tools)
    {
        string[] events =
        [
            """{"type":"response.created","sequence_number":0,"response":{"id":1,"model":5,"output":{}}}""",
            """{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":7}}""",
            """{"type":"response.content_part.added","sequence_number":2,"output_index":0,"content_index":"0","part":[]}""",
            """{"type":"response.content_part.added","sequence_number":3,"output_index":0,"content_index":0,"part":[]}""",
            """{"type":"response.output_text.delta","sequence_number":4,"output_index":0,"content_index":0,"delta":"<think>Plan.</think>Sure."}""",
            """{"type":"response.output_text.delta","sequence_number":5,"output_index":0,"content_index":0,"delta":5}""",
            """{"type":"response.output_text.annotation.added","sequence_number":6,"output_index":0,"content_index":0,"annotation":null}""",
            """{"type":"response.output_text.done","sequence_number":7,"output_index":0,"content_index":0,"text":null}""",
            """{"type":"response.content_part.done","sequence_number":8,"output_index":0,"content_index":0,"part":"x"}""",
            """{"type":"response.output_item.done","sequence_number":9,"output_index":0,"item":{"content":"x","text":1}}""",
            """{"type":"response.output_item.added","sequence_number":10,"output_index":"1","item":{"type":"reasoning"}}""",
            """{"type":"response.completed","sequence_number":1.5,"response":{"status":7,"model":[],"output":[3,{"id":7},{"type":"message"},"x"]}}""",
        ];
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        using var repair = tools ? new CopilotProxy.ToolCalls.ToolCallRepair(["get_weather"], Model, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance) : null;
        using var rewrite = new CopilotProxy.OpenAI.ResponsesReasoning(new CopilotProxy.Reasoning.ReasoningSplitter(ReasoningFormats.Auto));
        var relay = new CopilotProxy.OpenAI.EventStreamRelay(output, CopilotProxy.OpenAI.EventApi.Responses, Model, repair) { Reasoning = rewrite };

        foreach (var e in events)
        {
            relay.OnEvent(Encoding.UTF8.GetBytes(e));
        }

        Assert.True(relay.Finished);
        Assert.Equal(ReasoningFormats.Think, rewrite.Found);
        var written = Encoding.UTF8.GetString(output.WrittenSpan);
        Assert.True(written.Contains("\"type\":\"response.reasoning_text.delta\"", StringComparison.Ordinal), written);
        Assert.DoesNotContain("<think>", written, StringComparison.Ordinal);
    }

    internal static IEnumerable<string> StringInfoElements(string text)
    {
        var e = System.Globalization.StringInfo.GetTextElementEnumerator(text);
        while (e.MoveNext())
        {
            yield return e.GetTextElement();
        }
    }

    [Theory]
    [InlineData("api/chat", true)]
    [InlineData("api/chat", false)]
    [InlineData("api/generate", true)]
    [InlineData("api/generate", false)]
    public async Task OllamaApi_ReasoningArrivesAsThinking(string path, bool stream)
    {
        await using var proxy = await StartAsync("<think>\nPlan: greet.\n</think>\n\nHello there!");
        var request = path == "api/chat"
            ? $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"hi"}],"stream":{{(stream ? "true" : "false")}}}"""
            : $$"""{"model":"{{Model}}","prompt":"hi","stream":{{(stream ? "true" : "false")}}}""";

        using var response = await proxy.Ollama.PostAsync(path, new StringContent(request, Encoding.UTF8, "application/json"), Ct);
        var lines = (await response.Content.ReadAsStringAsync(Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        var (thinking, content) = (new StringBuilder(), new StringBuilder());
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var holder = path == "api/chat" ? json.RootElement.GetProperty("message") : json.RootElement;
            content.Append(holder.GetProperty(path == "api/chat" ? "content" : "response").GetString());
            if (holder.TryGetProperty("thinking", out var t))
            {
                thinking.Append(t.GetString());
            }
        }

        Assert.Equal("Plan: greet.\n", thinking.ToString());
        Assert.Equal("Hello there!", content.ToString());
    }

    [Fact]
    public async Task OllamaThinkFalse_DropsTheReasoning()
    {
        await using var proxy = await StartAsync("<think>Plan.</think>Hello!");

        using var response = await proxy.Ollama.PostAsync("api/chat",
            new StringContent($$"""{"model":"{{Model}}","messages":[{"role":"user","content":"hi"}],"stream":false,"think":false}""", Encoding.UTF8, "application/json"), Ct);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        var message = json.RootElement.GetProperty("message");
        Assert.Equal("Hello!", message.GetProperty("content").GetString());
        Assert.False(message.TryGetProperty("thinking", out _));
    }

    [Fact]
    public async Task ThinkOpenModel_TakesTheTextBeforeTheClosingTag()
    {
        var config = GatewayHarness.Config($"""
            model_list:
              - model_name: {Model}
                litellm_params:
                  model: lm_studio/{Model}
                model_info:
                  reasoning_format: think-open
            """);
        await using var proxy = await ProxyFixture.StartAsync(config: config);
        proxy.Upstream.DefaultReply = "The user greets me.\n</think>\n\nHello!";

        var turn = await CopilotChatAsync(proxy, "gateway");

        Assert.Equal("The user greets me.\n", turn.Thinking);
        Assert.Equal("Hello!", turn.Text);
    }
}
