using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Ollama;

/// <summary>
/// Ollama wire transcripts: an Ollama client request and real upstream bytes (captured from llama.cpp's server) go in
/// through the real proxy's <c>/api/chat</c> and <c>/api/generate</c>, and the bytes the client receives must match the
/// reviewed file under <c>Transcripts/expected/</c> once the volatile fields are normalised (see
/// <see cref="Normalise"/> and <c>Transcripts/expected/README.md</c>). Set UPDATE_TRANSCRIPTS=1 to rewrite the expected
/// files, then review every line against docs/protocol.md §2.4/§2.5 before committing.
/// </summary>
public sealed partial class NdjsonTranscriptTests
{
    private const string WeatherTool =
        """{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string"}},"required":["city"]}}}""";

    [Theory]
    [InlineData("tiny-random", "llama-server/text-stream.sse", false, true, "expected/ollama-chat-text-stream.ndjson")]
    [InlineData("tiny-random", "llama-server/text-stream.sse", false, false, "expected/ollama-chat-text-nonstream.json")]
    [InlineData("toolcall-fixture", "llama-server/tool-stream.sse", true, true, "expected/ollama-chat-tool-stream.ndjson")]
    [InlineData("toolcall-fixture", "llama-server/tool-stream.sse", true, false, "expected/ollama-chat-tool-nonstream.json")]
    [InlineData("tiny-random", "llama-server/text-nonstream.json", false, false, "expected/ollama-chat-text-from-json.json")]
    [InlineData("toolcall-fixture", "llama-server/tool-nonstream.json", true, false, "expected/ollama-chat-tool-from-json.json")]
    public async Task Chat_UpstreamTranscript_ReachesTheClientAsExpectedLines(string model, string upstreamFile, bool tools, bool stream, string expectedFile)
    {
        await using var proxy = await StartAsync(model, upstreamFile);
        var body = $$"""{"model":"{{model}}:latest","messages":[{"role":"user","content":"Weather in Paris?"}],"stream":{{Bool(stream)}}{{(tools ? ",\"tools\":[" + WeatherTool + "]" : "")}}}""";

        var actual = await PostAsync(proxy, "api/chat", body, stream);

        AssertMatchesTranscript(expectedFile, actual);
    }

    [Theory]
    [InlineData("llama-server/text-stream.sse", true, "expected/ollama-generate-text-stream.ndjson")]
    [InlineData("llama-server/text-stream.sse", false, "expected/ollama-generate-text-nonstream.json")]
    public async Task Generate_UpstreamTranscript_ReachesTheClientAsExpectedLines(string upstreamFile, bool stream, string expectedFile)
    {
        await using var proxy = await StartAsync("tiny-random", upstreamFile);
        var body = $$"""{"model":"tiny-random","prompt":"Weather in Paris?","stream":{{Bool(stream)}}}""";

        var actual = await PostAsync(proxy, "api/generate", body, stream);

        AssertMatchesTranscript(expectedFile, actual);
    }

    private static async Task<ProxyFixture> StartAsync(string model, string upstreamFile)
    {
        var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(model)]);
        var capture = Transcripts.Read(upstreamFile);
        proxy.Upstream.Enqueue(upstreamFile.EndsWith(".sse", StringComparison.Ordinal) ? FakeResponse.RawSse(capture) : FakeResponse.Json(200, capture));
        return proxy;
    }

    private static async Task<string> PostAsync(ProxyFixture proxy, string path, string body, bool stream)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, request);
        Assert.Equal(200, (int)response.StatusCode);
        // §2.1: a stream is NDJSON, stream:false one application/json object.
        Assert.Equal(stream ? "application/x-ndjson" : "application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    private static string Bool(bool value) => value ? "true" : "false";

    /// <summary>
    /// The only fields that differ run to run: <c>created_at</c> (the proxy's clock) and <c>total_duration</c> /
    /// <c>load_duration</c> (measured by the proxy). Their values are replaced, keeping each line valid JSON; every other
    /// byte, including the prompt and eval durations taken from llama.cpp's <c>timings</c>, is compared exactly.
    /// </summary>
    internal static string Normalise(string ndjson)
    {
        var text = CreatedAt().Replace(ndjson, "\"created_at\":\"<created_at>\"");
        return MeasuredDuration().Replace(text, "\"$1\":0");
    }

    [GeneratedRegex("\"created_at\":\"[^\"]*\"")]
    private static partial Regex CreatedAt();

    [GeneratedRegex("\"(total_duration|load_duration)\":[0-9]+")]
    private static partial Regex MeasuredDuration();

    private static void AssertMatchesTranscript(string expectedFile, string raw, [CallerFilePath] string sourceFile = "")
    {
        // Proves the normaliser touched what it must: every line of the raw answer has a real timestamp.
        Assert.All(raw.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Matches("\"created_at\":\"20[0-9]{2}-", line));
        var actual = Normalise(raw);
        if (Environment.GetEnvironmentVariable("UPDATE_TRANSCRIPTS") == "1")
        {
            var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(sourceFile)!, "..", "Transcripts", expectedFile));
            File.WriteAllText(target, actual, new UTF8Encoding(false));
            return;
        }

        Assert.Equal(Transcripts.Read(expectedFile), actual);
    }
}
