using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.Ollama;
using CopilotProxy.Ollama.Wire;

namespace CopilotProxy.Tests.Ollama;

public class GenerateTranslationTests
{
    private static GenerateRequest Parse(string json) => JsonSerializer.Deserialize(json, OllamaJsonContext.Default.GenerateRequest)!;

    private static JsonObject Translate(string json, ThinkSetting think = ThinkSetting.Unset)
    {
        var buffer = new ArrayBufferWriter<byte>();
        GenerateTranslation.WriteRequest(Parse(json), new UpstreamRequestSettings("up/model", think, true, null), buffer);
        return JsonNode.Parse(Encoding.UTF8.GetString(buffer.WrittenSpan))!.AsObject();
    }

    [Fact]
    public void PromptAndSystem_BecomeAChatTurnSoLmStudioAppliesTheTemplate()
    {
        var request = Parse("""{"model":"m","prompt":"Why is the sky blue?","system":"Be brief."}""");
        var upstream = Translate("""{"model":"m","prompt":"Why is the sky blue?","system":"Be brief.","options":{"temperature":0}}""", ThinkSetting.High);

        Assert.Equal("v1/chat/completions", GenerateTranslation.UpstreamPath(request));
        Assert.Equal("""[{"role":"system","content":"Be brief."},{"role":"user","content":"Why is the sky blue?"}]""", upstream["messages"]!.ToJsonString());
        Assert.Equal(0, (double?)upstream["temperature"]);
        Assert.Equal("high", (string?)upstream["reasoning_effort"]);
        Assert.True((bool?)upstream["stream_options"]!["include_usage"]);
    }

    [Fact]
    public void Raw_GoesToCompletionsWithThePromptUntouched()
    {
        var request = Parse("""{"model":"m","prompt":"<|im_start|>user\nhi","raw":true,"system":"ignored"}""");
        var upstream = Translate("""{"model":"m","prompt":"<|im_start|>user\nhi","raw":true,"system":"ignored"}""", ThinkSetting.On);

        Assert.Equal("v1/completions", GenerateTranslation.UpstreamPath(request));
        Assert.Equal("<|im_start|>user\nhi", (string?)upstream["prompt"]);
        Assert.False(upstream.ContainsKey("messages"));
        Assert.False(upstream.ContainsKey("reasoning_effort"));
    }

    [Fact]
    public void Images_GoIntoTheUserTurnAsDataUrls()
    {
        var upstream = Translate("""{"model":"m","prompt":"describe","images":["iVBORw0KGgoAAAANSUhEUg=="]}""");

        var content = upstream["messages"]![0]!["content"]!.AsArray();
        Assert.Equal("data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", (string?)content[1]!["image_url"]!["url"]);
    }

    [Fact]
    public void Suffix_IsRefusedLikeOllamaDoesForModelsWithoutInsert()
    {
        var error = GenerateTranslation.Validate(Parse("""{"model":"m","prompt":"def f(","suffix":"return x"}"""), "coder:latest");

        Assert.Equal((400, "\"coder:latest\" does not support insert"), error);
    }

    [Fact]
    public void FormatJson_MapsAsForChat()
    {
        var upstream = Translate("""{"model":"m","prompt":"list","format":"json"}""");

        Assert.Equal("json_schema", (string?)upstream["response_format"]!["type"]);
    }
}
