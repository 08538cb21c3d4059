using System.Runtime.CompilerServices;
using System.Text;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Transcripts;

/// <summary>
/// Wire transcripts: a client request and real upstream bytes (captured from llama.cpp's server) go in, and the exact bytes
/// the client receives must match the reviewed file under <c>Transcripts/expected/</c>. Set UPDATE_TRANSCRIPTS=1 to rewrite
/// the expected files, then review the diff before committing it.
/// </summary>
public sealed class RelayTranscriptTests
{
    [Theory]
    [InlineData("toolcall-fixture", "llama-server/tool-stream.sse", "expected/relay-tool-stream.sse", true)]
    [InlineData("tiny-random", "llama-server/text-stream.sse", "expected/relay-text-stream.sse", false)]
    public async Task UpstreamStream_ReachesCopilotAsExpectedBytes(string model, string upstreamFile, string expectedFile, bool tools)
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(model)]);
        proxy.Upstream.Enqueue(FakeResponse.RawSse(Harness.Transcripts.Read(upstreamFile)));

        using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(model + ":latest", tools: tools)));
        var actual = await response.Content.ReadAsStringAsync();

        AssertMatchesTranscript(expectedFile, actual);
        var turn = CopilotSseParser.Parse(actual);
        Assert.Null(turn.Error);
        Assert.True(turn.SawDone);
    }

    [Fact]
    public async Task NonStreamingToolCall_ReachesTheClientAsExpectedBytes()
    {
        await using var proxy = await ProxyFixture.StartAsync([FakeModel.Llm("toolcall-fixture")]);
        proxy.Upstream.Enqueue(FakeResponse.Json(200, Harness.Transcripts.Read("llama-server/tool-nonstream.json")));

        using var response = await proxy.Ollama.SendAsync(ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat("toolcall-fixture", stream: false)));

        AssertMatchesTranscript("expected/relay-tool-nonstream.json", await response.Content.ReadAsStringAsync());
    }

    private static void AssertMatchesTranscript(string expectedFile, string actual, [CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable("UPDATE_TRANSCRIPTS") == "1")
        {
            var target = Path.Combine(Path.GetDirectoryName(sourceFile)!, expectedFile);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, actual, new UTF8Encoding(false));
            return;
        }

        Assert.Equal(Harness.Transcripts.Read(expectedFile), actual);
    }
}
