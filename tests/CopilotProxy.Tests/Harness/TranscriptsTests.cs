namespace CopilotProxy.Tests.Harness;

public class TranscriptsTests
{
    [Fact]
    public void CapturedFiles_KeepTheirExactBytes()
    {
        // The header captures are CRLF on the wire; any newline normalisation (git or build) would break transcript tests.
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", Transcripts.Read("llama-server/tool-stream.headers"), StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", Transcripts.Read("llama-server/tool-stream.sse"), StringComparison.Ordinal);
        Assert.Equal(4873, Transcripts.ReadBytes("llama-server/tool-stream.sse").Length);
    }
}
