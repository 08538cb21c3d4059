using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.Ollama;
using CopilotProxy.Ollama.Wire;

namespace CopilotProxy.Tests.Ollama;

public class EmbedTranslationTests
{
    private static OpenAIEmbeddingList Upstream(string json) => JsonSerializer.Deserialize(json, OllamaJsonContext.Default.OpenAIEmbeddingList)!;

    [Fact]
    public void Vectors_ComeBackInInputOrderAndUnitLength()
    {
        var upstream = Upstream("""{"data":[{"index":1,"embedding":[0,4]},{"index":0,"embedding":[3,4]}],"usage":{"prompt_tokens":7}}""");

        var vectors = EmbedTranslation.Vectors(upstream, null, normalize: true);

        Assert.Equal([0.6f, 0.8f], vectors[0]);
        Assert.Equal([0f, 1f], vectors[1]);
        Assert.Equal(7, upstream.Usage!.PromptTokens);
    }

    [Fact]
    public void Dimensions_CutTheVectorBeforeNormalising()
    {
        var vectors = EmbedTranslation.Vectors(Upstream("""{"data":[{"index":0,"embedding":[3,4,12]}]}"""), 2, normalize: true);

        Assert.Equal([0.6f, 0.8f], vectors[0]);
    }

    [Fact]
    public void LegacyEndpoint_KeepsTheRawVector()
    {
        var vectors = EmbedTranslation.Vectors(Upstream("""{"data":[{"index":0,"embedding":[3,4]}]}"""), null, normalize: false);

        Assert.Equal([3f, 4f], vectors[0]);
    }

    [Theory]
    [InlineData("\"text\"", true)]
    [InlineData("[\"a\",\"b\"]", true)]
    [InlineData("[1,2]", false)]
    [InlineData("{}", false)]
    public void Input_MustBeAStringOrStrings(string input, bool valid)
    {
        var request = JsonSerializer.Deserialize($$"""{"model":"m","input":{{input}}}""", OllamaJsonContext.Default.EmbedRequest)!;

        Assert.Equal(valid, EmbedTranslation.ValidateInput(request.Input) is null);
    }

    [Fact]
    public void Request_AsksForFloatsAndPassesDimensions()
    {
        var request = JsonSerializer.Deserialize("""{"model":"m","input":["a","b"],"dimensions":256}""", OllamaJsonContext.Default.EmbedRequest)!;
        var buffer = new ArrayBufferWriter<byte>();

        EmbedTranslation.WriteRequest("nomic", request.Input!.Value, request.Dimensions, 60, buffer);

        Assert.Equal("""{"model":"nomic","input":["a","b"],"encoding_format":"float","dimensions":256,"ttl":60}""", Encoding.UTF8.GetString(buffer.WrittenSpan));
        Assert.NotNull(JsonNode.Parse(buffer.WrittenSpan));
    }
}
