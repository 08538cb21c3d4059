using System.Text;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Tests.OpenAI;

namespace CopilotProxy.Tests.Reasoning;

/// <summary>
/// Reasoning the splitter finds after the answer text began (Gemma's and harmony's later thoughts): Messages and Responses,
/// streamed and whole, show it in the order written, as alternating blocks or items.
/// </summary>
public sealed class InterleavedReasoningTests
{
    private const string Model = "qwen/qwen3-8b";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Interleaved = "<|channel>thought\nWhich city?<channel|>Let me check.<|channel>thought\nParis it is.<channel|>Sunny in Paris.";

    /// <summary>
    /// Gemma thinks again after its answer text began: the streamed Responses answer gets reasoning, message, reasoning,
    /// message, whatever the cuts, and the final output lists the same items as the whole answer does.
    /// </summary>
    [Fact]
    public async Task InterleavedThoughts_StreamedResponses_AlternateReasoningAndMessageItems()
    {
        var elements = ReasoningFromTextTests.StringInfoElements(Interleaved).ToArray();
        for (var i = 1; i < elements.Length; i++)
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            using var rewrite = new CopilotProxy.OpenAI.ResponsesReasoning(new CopilotProxy.Reasoning.ReasoningSplitter(ReasoningFormats.Gemma));
            var relay = new CopilotProxy.OpenAI.EventStreamRelay(output, CopilotProxy.OpenAI.EventApi.Responses, Model) { Reasoning = rewrite };
            foreach (var e in LmStudioEventStreams.Responses(Model, [string.Concat(elements[..i]), string.Concat(elements[i..])], null, 12))
            {
                relay.OnEvent(Encoding.UTF8.GetBytes(e.Data));
            }

            var written = Encoding.UTF8.GetString(output.WrittenSpan);
            var outcome = ResponsesOutcome.Check(written);
            Assert.Equal(["reasoning", "message", "reasoning", "message"], outcome.Items);
            var final = JsonDocument.Parse(CopilotProxy.Tests.OpenAI.EventApiRelayTests.ParseEvents(written)[^1].Data.GetRawText()).RootElement.GetProperty("response").GetProperty("output");
            Assert.Equal(["Which city?", "Let me check.", "Paris it is.", "Sunny in Paris."], final.EnumerateArray().Select(o => o.GetProperty("content")[0].GetProperty("text").GetString()));
            Assert.NotEqual(final[1].GetProperty("id").GetString(), final[3].GetProperty("id").GetString());
        }

        await using var proxy = await ReasoningFromTextTests.StartAsync(Interleaved);
        using var response = await proxy.Gateway.PostAsync("v1/responses",
            new StringContent($$"""{"model":"{{Model}}","input":"hi"}""", Encoding.UTF8, "application/json"), Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var whole = body.RootElement.GetProperty("output");
        Assert.Equal(["reasoning", "message", "reasoning", "message"], whole.EnumerateArray().Select(o => o.GetProperty("type").GetString()));
        Assert.Equal(["Which city?", "Let me check.", "Paris it is.", "Sunny in Paris."], whole.EnumerateArray().Select(o => o.GetProperty("content")[0].GetProperty("text").GetString()));
    }

    /// <summary>The same answer on Messages, streamed and whole: thinking(0), text(1), thinking(2), text(3).</summary>
    [Fact]
    public async Task InterleavedThoughts_Messages_AlternateThinkingAndTextBlocks()
    {
        await using var proxy = await ReasoningFromTextTests.StartAsync(Interleaved);
        using var streamed = await proxy.Gateway.PostAsync("v1/messages",
            new StringContent($$"""{"model":"{{Model}}","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"), Ct);
        var events = (await streamed.Content.ReadAsStringAsync(Ct)).Split('\n')
            .Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();
        var blocks = new List<(int Index, string Type, StringBuilder Text)>();
        var open = -1;
        foreach (var e in events)
        {
            switch (e.GetProperty("type").GetString())
            {
                case "content_block_start":
                    Assert.Equal(-1, open);
                    open = e.GetProperty("index").GetInt32();
                    Assert.Equal(blocks.Count, open);
                    blocks.Add((open, e.GetProperty("content_block").GetProperty("type").GetString()!, new StringBuilder()));
                    break;
                case "content_block_delta":
                    Assert.Equal(open, e.GetProperty("index").GetInt32());
                    var delta = e.GetProperty("delta");
                    blocks[^1].Text.Append((delta.TryGetProperty("thinking", out var t) ? t : delta.GetProperty("text")).GetString());
                    break;
                case "content_block_stop":
                    Assert.Equal(open, e.GetProperty("index").GetInt32());
                    open = -1;
                    break;
            }
        }

        Assert.Equal(-1, open);
        Assert.Equal([("thinking", "Which city?"), ("text", "Let me check."), ("thinking", "Paris it is."), ("text", "Sunny in Paris.")],
            blocks.Select(b => (b.Type, b.Text.ToString())));

        using var response = await proxy.Gateway.PostAsync("v1/messages",
            new StringContent($$"""{"model":"{{Model}}","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"), Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal([("thinking", "Which city?"), ("text", "Let me check."), ("thinking", "Paris it is."), ("text", "Sunny in Paris.")],
            body.RootElement.GetProperty("content").EnumerateArray().Select(b => (b.GetProperty("type").GetString()!, (b.TryGetProperty("thinking", out var t) ? t : b.GetProperty("text")).GetString()!)));
    }

    /// <summary>A call after a later thought (Gemma with tools) is still a call on a streamed Messages answer.</summary>
    [Fact]
    public async Task ToolCallAfterALaterThought_StreamedMessages_IsRepaired()
    {
        await using var proxy = await ReasoningFromTextTests.StartAsync(
            "<|channel>thought\nGreet.<channel|>Let me check.<|channel>thought\nNeed weather.<channel|><|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>");
        using var response = await proxy.Gateway.PostAsync("v1/messages",
            new StringContent($$$"""{"model":"{{{Model}}}","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}""", Encoding.UTF8, "application/json"), Ct);
        var events = (await response.Content.ReadAsStringAsync(Ct)).Split('\n')
            .Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();

        var starts = events.Where(e => e.GetProperty("type").GetString() == "content_block_start")
            .Select(e => (e.GetProperty("index").GetInt32(), e.GetProperty("content_block").GetProperty("type").GetString())).ToList();
        Assert.Equal([(0, "thinking"), (1, "text"), (2, "thinking"), (3, "tool_use")], starts);
        Assert.Equal("tool_use", events.Single(e => e.GetProperty("type").GetString() == "message_delta").GetProperty("delta").GetProperty("stop_reason").GetString());
    }

    /// <summary>
    /// A call after a later thought on a streamed Responses answer, whatever the cuts: the repair follows the answer into
    /// the message after the reasoning item, the final output lists the items streamed, and the whole answer the same.
    /// </summary>
    [Theory]
    [InlineData("", new[] { "reasoning", "message", "reasoning", "function_call" })]
    [InlineData("Checking.", new[] { "reasoning", "message", "reasoning", "message", "function_call" })]
    public async Task ToolCallAfterALaterThought_StreamedResponses_IsRepaired(string before, string[] items)
    {
        var answer = "<|channel>thought\nGreet.<channel|>Let me check.<|channel>thought\nNeed weather.<channel|>" + before
            + "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>";
        var texts = new[] { "Greet.", "Let me check.", "Need weather.", before }.Where(t => t.Length > 0);
        var elements = ReasoningFromTextTests.StringInfoElements(answer).ToArray();
        for (var i = 1; i < elements.Length; i++)
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            using var rewrite = new CopilotProxy.OpenAI.ResponsesReasoning(new CopilotProxy.Reasoning.ReasoningSplitter(ReasoningFormats.Gemma));
            using var repair = new CopilotProxy.ToolCalls.ToolCallRepair(["get_weather"], Model, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            var relay = new CopilotProxy.OpenAI.EventStreamRelay(output, CopilotProxy.OpenAI.EventApi.Responses, Model, repair) { Reasoning = rewrite };
            foreach (var e in LmStudioEventStreams.Responses(Model, [string.Concat(elements[..i]), string.Concat(elements[i..])], null, 12))
            {
                relay.OnEvent(Encoding.UTF8.GetBytes(e.Data));
            }

            var outcome = ResponsesOutcome.Check(Encoding.UTF8.GetString(output.WrittenSpan));
            Assert.Equal(items, outcome.Items);
            Assert.Equal([new ResponsesCall("get_weather", """{"city":"Paris"}""", outcome.Calls[0].CallId)], outcome.Calls);
            Assert.Equal(1, relay.RepairedToolCalls);
        }

        await using var proxy = await ReasoningFromTextTests.StartAsync(answer);
        using var response = await proxy.Gateway.PostAsync("v1/responses",
            new StringContent($$$"""{"model":"{{{Model}}}","input":"hi","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}""", Encoding.UTF8, "application/json"), Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var whole = body.RootElement.GetProperty("output").EnumerateArray().ToArray();
        Assert.Equal(items, whole.Select(o => o.GetProperty("type").GetString()));
        Assert.Equal(texts, whole.SkipLast(1).Select(o => o.GetProperty("content")[0].GetProperty("text").GetString()));
        Assert.Equal(("get_weather", """{"city":"Paris"}"""), (whole[^1].GetProperty("name").GetString(), whole[^1].GetProperty("arguments").GetString()));
    }

    /// <summary>The same on a whole Messages answer: the call after the later thought is a tool_use block, as streamed.</summary>
    [Fact]
    public async Task ToolCallAfterALaterThought_WholeMessages_IsRepaired()
    {
        await using var proxy = await ReasoningFromTextTests.StartAsync(
            "<|channel>thought\nGreet.<channel|>Let me check.<|channel>thought\nNeed weather.<channel|><|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>");
        using var response = await proxy.Gateway.PostAsync("v1/messages",
            new StringContent($$$"""{"model":"{{{Model}}}","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}""", Encoding.UTF8, "application/json"), Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(["thinking", "text", "thinking", "tool_use"], body.RootElement.GetProperty("content").EnumerateArray().Select(b => b.GetProperty("type").GetString()));
        Assert.Equal("tool_use", body.RootElement.GetProperty("stop_reason").GetString());
    }

    /// <summary>
    /// <c>&lt;think&gt;&lt;/think&gt;</c> (a model that skipped thinking) leaves no empty thinking block, reasoning item or
    /// reasoning field, streamed or whole, on any API: the stream can't show an empty one, and the whole answer agrees.
    /// </summary>
    [Fact]
    public async Task EmptyReasoning_StreamedOrWhole_WritesNoReasoning()
    {
        await using var proxy = await ReasoningFromTextTests.StartAsync("<think></think>Hi");
        async Task<string> PostAsync(string path, string body)
        {
            using var response = await proxy.Gateway.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), Ct);
            return await response.Content.ReadAsStringAsync(Ct);
        }

        static IEnumerable<JsonElement> Data(string sse) => sse.Split('\n')
            .Where(l => l.StartsWith("data: {", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement);

        var messages = $$"""{"model":"{{Model}}","max_tokens":64,"messages":[{"role":"user","content":"hi"}]""";
        using (var whole = JsonDocument.Parse(await PostAsync("v1/messages", messages + "}")))
        {
            Assert.Equal(["text"], whole.RootElement.GetProperty("content").EnumerateArray().Select(b => b.GetProperty("type").GetString()));
            Assert.Equal("Hi", whole.RootElement.GetProperty("content")[0].GetProperty("text").GetString());
        }

        Assert.Equal(["text"], Data(await PostAsync("v1/messages", messages + ""","stream":true}"""))
            .Where(e => e.GetProperty("type").GetString() == "content_block_start").Select(e => e.GetProperty("content_block").GetProperty("type").GetString()));

        var responses = $$"""{"model":"{{Model}}","input":"hi" """;
        using (var whole = JsonDocument.Parse(await PostAsync("v1/responses", responses + "}")))
        {
            Assert.Equal(["message"], whole.RootElement.GetProperty("output").EnumerateArray().Select(o => o.GetProperty("type").GetString()));
        }

        var streamed = ResponsesOutcome.Check(await PostAsync("v1/responses", responses + ""","stream":true}"""));
        Assert.Equal(["message"], streamed.Items);
        Assert.Equal("Hi", streamed.Text);

        var chat = $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"hi"}]""";
        using (var whole = JsonDocument.Parse(await PostAsync("v1/chat/completions", chat + "}")))
        {
            var message = whole.RootElement.GetProperty("choices")[0].GetProperty("message");
            Assert.Equal("Hi", message.GetProperty("content").GetString());
            Assert.False(message.TryGetProperty("reasoning_content", out _));
        }

        Assert.DoesNotContain(Data(await PostAsync("v1/chat/completions", chat + ""","stream":true}""")),
            e => e.GetProperty("choices").EnumerateArray().Any(c => c.TryGetProperty("delta", out var d) && d.TryGetProperty("reasoning_content", out _)));
    }
}
