using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.Ollama;
using CopilotProxy.Ollama.Wire;

namespace CopilotProxy.Tests.Ollama;

/// <summary>Ollama chat request → OpenAI request, one mapping per test, through the generated JSON context only.</summary>
public class ChatTranslationTests
{
    private const string PngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    private const string JpegBase64 = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHSEaHx4dGhwcICQuJyIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/";

    internal static ChatRequest Parse(string json) =>
        JsonSerializer.Deserialize(json, OllamaJsonContext.Default.ChatRequest)!;

    internal static JsonObject Translate(string ollamaJson, ThinkSetting think = ThinkSetting.Unset, bool sendReasoning = true, int? ttl = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        ChatTranslation.WriteRequest(Parse(ollamaJson), new UpstreamRequestSettings("qwen/qwen3-8b", think, sendReasoning, ttl), buffer);
        return JsonNode.Parse(Encoding.UTF8.GetString(buffer.WrittenSpan))!.AsObject();
    }

    [Fact]
    public void AnyRequest_StreamsUpstreamWithUsageAndTheUpstreamModelKey()
    {
        var upstream = Translate("""{"model":"qwen3:latest","messages":[{"role":"user","content":"hi"}],"stream":false}""");

        Assert.Equal("qwen/qwen3-8b", (string?)upstream["model"]);
        Assert.True((bool?)upstream["stream"]);
        Assert.True((bool?)upstream["stream_options"]!["include_usage"]);
        Assert.Equal("""[{"role":"user","content":"hi"}]""", upstream["messages"]!.ToJsonString());
    }

    [Fact]
    public void OptionsMapToSamplingFields()
    {
        var upstream = Translate("""
            {"model":"m","messages":[{"role":"user","content":"hi"}],
             "options":{"num_predict":128,"temperature":0.2,"top_p":0.9,"top_k":40,"seed":42,"stop":["</s>","END"],
                        "presence_penalty":0.5,"frequency_penalty":0.25,"repeat_penalty":1.1}}
            """);

        Assert.Equal(128, (int?)upstream["max_tokens"]);
        Assert.Equal(0.2, (double?)upstream["temperature"]);
        Assert.Equal(0.9, (double?)upstream["top_p"]);
        Assert.Equal(40, (int?)upstream["top_k"]);
        Assert.Equal(42, (long?)upstream["seed"]);
        Assert.Equal(["</s>", "END"], upstream["stop"]!.AsArray().Select(s => (string?)s));
        Assert.Equal(0.5, (double?)upstream["presence_penalty"]);
        Assert.Equal(0.25, (double?)upstream["frequency_penalty"]);
        Assert.Equal(1.1, (double?)upstream["repeat_penalty"]);
    }

    [Fact]
    public void StopAsOneString_BecomesAnArray()
    {
        var upstream = Translate("""{"model":"m","messages":[],"options":{"stop":"\n\n"}}""");

        Assert.Equal("[\"\\n\\n\"]", upstream["stop"]!.ToJsonString());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(-2)]
    [InlineData(0)]
    public void NumPredictUnlimitedOrZero_LeavesMaxTokensOut(int numPredict)
    {
        var upstream = Translate($$$"""{"model":"m","messages":[],"options":{"num_predict":{{{numPredict}}}}}""");

        Assert.False(upstream.ContainsKey("max_tokens"));
    }

    [Fact]
    public void RunnerOptions_AreNotSentButReportedForTheDebugLog()
    {
        const string json = """{"model":"m","messages":[],"options":{"num_ctx":8192,"num_gpu":99,"temperature":0.1}}""";
        var upstream = Translate(json);

        Assert.False(upstream.ContainsKey("num_ctx"));
        Assert.False(upstream.ContainsKey("num_gpu"));
        Assert.Equal("num_ctx, num_gpu", ChatTranslation.IgnoredOptions(Parse(json).Options));
    }

    [Fact]
    public void ImagesBecomeDataUrls()
    {
        var upstream = Translate($$"""{"model":"m","messages":[{"role":"user","content":"what is this?","images":["{{PngBase64}}","{{JpegBase64}}"]}]}""");

        var content = upstream["messages"]![0]!["content"]!.AsArray();
        Assert.Equal("""{"type":"text","text":"what is this?"}""", content[0]!.ToJsonString());
        Assert.Equal("image_url", (string?)content[1]!["type"]);
        Assert.Equal("data:image/png;base64," + PngBase64, (string?)content[1]!["image_url"]!["url"]);
        Assert.Equal("data:image/jpeg;base64," + JpegBase64, (string?)content[2]!["image_url"]!["url"]);
    }

    [Fact]
    public void ImageAlreadyADataUrl_IsKept()
    {
        var upstream = Translate($$"""{"model":"m","messages":[{"role":"user","content":"","images":["data:image/webp;base64,UklGRgAAAABXRUJQ"]}]}""");

        var content = upstream["messages"]![0]!["content"]!.AsArray();
        Assert.Single(content);
        Assert.Equal("data:image/webp;base64,UklGRgAAAABXRUJQ", (string?)content[0]!["image_url"]!["url"]);
    }

    [Fact]
    public void ImageThatIsNotBase64_IsRejected()
    {
        Assert.NotNull(ChatTranslation.ValidateImages(["not base64!"]));
        Assert.Null(ChatTranslation.ValidateImages([PngBase64]));
    }

    [Fact]
    public void AssistantToolCallArgumentsObject_BecomesJsonString()
    {
        var upstream = Translate("""
            {"model":"m","messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":"","tool_calls":[{"id":"call_ab12","function":{"name":"get_weather","arguments":{"city":"Tokyo","days":[1,2]}}}]},
              {"role":"tool","content":"22°C","tool_call_id":"call_ab12"}]}
            """);

        var call = upstream["messages"]![1]!["tool_calls"]![0]!;
        Assert.Equal("call_ab12", (string?)call["id"]);
        Assert.Equal("function", (string?)call["type"]);
        Assert.Equal("get_weather", (string?)call["function"]!["name"]);
        Assert.Equal("""{"city":"Tokyo","days":[1,2]}""", (string?)call["function"]!["arguments"]);
        Assert.Equal("call_ab12", (string?)upstream["messages"]![2]!["tool_call_id"]);
        Assert.Equal("22°C", (string?)upstream["messages"]![2]!["content"]);
    }

    [Fact]
    public void ToolResultsWithoutIds_LinkToTheirCallsByToolName()
    {
        // What OllamaSharp and ollama-js send: calls without ids, results with only tool_name, in any order.
        var upstream = Translate("""
            {"model":"m","messages":[
              {"role":"user","content":"weather and time?"},
              {"role":"assistant","content":"","tool_calls":[
                 {"function":{"name":"get_weather","arguments":{"city":"Oslo"}}},
                 {"function":{"name":"get_time","arguments":{}}}]},
              {"role":"tool","content":"12:00","tool_name":"get_time"},
              {"role":"tool","content":"rain","tool_name":"get_weather"}]}
            """);

        var calls = upstream["messages"]![1]!["tool_calls"]!.AsArray();
        var weatherId = (string?)calls[0]!["id"];
        var timeId = (string?)calls[1]!["id"];
        Assert.False(string.IsNullOrEmpty(weatherId));
        Assert.NotEqual(weatherId, timeId);
        Assert.Equal(timeId, (string?)upstream["messages"]![2]!["tool_call_id"]);
        Assert.Equal(weatherId, (string?)upstream["messages"]![3]!["tool_call_id"]);
    }

    [Fact]
    public void ToolResultsWithoutIdsOrNames_LinkToCallsInOrder()
    {
        var upstream = Translate("""
            {"model":"m","messages":[
              {"role":"assistant","content":"","tool_calls":[{"function":{"name":"a","arguments":{}}},{"function":{"name":"b","arguments":{}}}]},
              {"role":"tool","content":"1"},{"role":"tool","content":"2"}]}
            """);

        var calls = upstream["messages"]![0]!["tool_calls"]!.AsArray();
        Assert.Equal((string?)calls[0]!["id"], (string?)upstream["messages"]![1]!["tool_call_id"]);
        Assert.Equal((string?)calls[1]!["id"], (string?)upstream["messages"]![2]!["tool_call_id"]);
    }

    [Fact]
    public void AssistantThinkingInHistory_IsNotSentUpstream()
    {
        var upstream = Translate("""{"model":"m","messages":[{"role":"assistant","content":"4","thinking":"2+2"}]}""");

        Assert.Equal("""{"role":"assistant","content":"4"}""", upstream["messages"]![0]!.ToJsonString());
    }

    [Fact]
    public void Tools_AreRelayedUnchanged()
    {
        const string tool = """{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}""";
        var upstream = Translate($$"""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{{tool}}]}""");

        Assert.Equal($"[{tool}]", upstream["tools"]!.ToJsonString());
    }

    [Fact]
    public void FormatJson_BecomesAnObjectSchemaBecauseLmStudioRejectsJsonObject()
    {
        var upstream = Translate("""{"model":"m","messages":[],"format":"json"}""");

        Assert.Equal("""{"type":"json_schema","json_schema":{"name":"json","schema":{"type":"object"}}}""", upstream["response_format"]!.ToJsonString());
    }

    [Fact]
    public void FormatSchema_BecomesStrictJsonSchema()
    {
        const string schema = """{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"]}""";
        var upstream = Translate($$"""{"model":"m","messages":[],"format":{{schema}}}""");

        Assert.Equal($$$"""{"type":"json_schema","json_schema":{"name":"response","strict":true,"schema":{{{schema}}}}}""", upstream["response_format"]!.ToJsonString());
    }

    [Theory]
    [InlineData("\"xml\"", false)]
    [InlineData("42", false)]
    [InlineData("\"json\"", true)]
    [InlineData("\"\"", true)]
    [InlineData("null", true)]
    public void Format_IsValidatedLikeOllama(string format, bool valid)
    {
        var request = Parse($$"""{"model":"m","format":{{format}}}""");

        Assert.Equal(valid, ChatTranslation.ValidateFormat(request.Format) is null);
    }

    [Theory]
    [InlineData("true", "medium")]
    [InlineData("false", "none")]
    [InlineData("\"low\"", "low")]
    [InlineData("\"medium\"", "medium")]
    [InlineData("\"high\"", "high")]
    [InlineData("\"max\"", "xhigh")]
    public void ThinkMapsToReasoningEffort(string think, string effort)
    {
        Assert.True(ChatTranslation.TryParseThink(Parse($$"""{"think":{{think}}}""").Think, out var setting, out _));

        var upstream = Translate("""{"model":"m","messages":[]}""", setting);

        Assert.Equal(effort, (string?)upstream["reasoning_effort"]);
    }

    [Fact]
    public void ThinkOnAModelKnownNotToReason_IsNotSent()
    {
        var upstream = Translate("""{"model":"m","messages":[]}""", ThinkSetting.On, sendReasoning: false);

        Assert.False(upstream.ContainsKey("reasoning_effort"));
    }

    [Fact]
    public void ThinkUnknownLevel_IsRejected()
    {
        Assert.False(ChatTranslation.TryParseThink(Parse("""{"think":"extreme"}""").Think, out _, out var error));
        Assert.Contains("invalid think value", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"5m\"", 300)]
    [InlineData("\"1h30m\"", 5400)]
    [InlineData("\"90s\"", 90)]
    [InlineData("\"1.5h\"", 5400)]
    [InlineData("600", 600)]
    [InlineData("\"0\"", 0)]
    [InlineData("0", 0)]
    [InlineData("\"-1\"", -1)]
    [InlineData("-1", -1)]
    [InlineData("\"-1m\"", -60)]
    public void KeepAlive_ParsesGoDurationsAndSeconds(string keepAlive, double seconds)
    {
        Assert.True(ChatTranslation.TryParseKeepAlive(Parse($$"""{"keep_alive":{{keepAlive}}}""").KeepAlive, out var parsed, out _));

        Assert.Equal(TimeSpan.FromSeconds(seconds), parsed);
    }

    [Fact]
    public void KeepAliveGarbage_IsRejected()
    {
        Assert.False(ChatTranslation.TryParseKeepAlive(Parse("""{"keep_alive":"soon"}""").KeepAlive, out _, out var error));
        Assert.Contains("invalid keep_alive", error, StringComparison.Ordinal);
    }

    [Fact]
    public void KeepAlive_BecomesLmStudioTtlInSeconds()
    {
        Assert.Equal(300, ChatTranslation.TtlSeconds(TimeSpan.FromMinutes(5)));
        Assert.Equal(1, ChatTranslation.TtlSeconds(TimeSpan.FromMilliseconds(200)));
        Assert.Null(ChatTranslation.TtlSeconds(TimeSpan.Zero));
        Assert.Null(ChatTranslation.TtlSeconds(TimeSpan.FromSeconds(-1)));
        Assert.Null(ChatTranslation.TtlSeconds(null));

        var upstream = Translate("""{"model":"m","messages":[]}""", ttl: 300);
        Assert.Equal(300, (int?)upstream["ttl"]);
    }
}
