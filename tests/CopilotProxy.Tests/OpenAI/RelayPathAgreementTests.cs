using System.IO.Pipelines;
using System.Text;
using CopilotProxy.OpenAI;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>
/// The relay's fast path (bytes copied around the new model name) and its document path (parse, apply the rules,
/// re-serialise) must give the client the same bytes for every event the fast path accepts; otherwise what a client
/// sees would depend on which path an event happened to take.
/// </summary>
public sealed class RelayPathAgreementTests
{
    private const string ClientModel = "qwen/qwen3-8b:latest";

    [Theory]
    [MemberData(nameof(Transcripts.SseFiles), MemberType = typeof(Transcripts))]
    public void CapturedTranscript_FastAndDocumentPathsWriteTheSameBytes(string file)
    {
        var events = Transcripts.DataEvents(file);
        Assert.NotEmpty(events);

        AssertSameBytes(events);
    }

    [Fact]
    public void LmStudioShapedStreams_FastAndDocumentPathsWriteTheSameBytes()
    {
        // LM Studio repeats the role in every delta and sends usage on the finish chunk; tokens cover escapes,
        // non-ASCII text, an emoji (a surrogate pair once decoded) and an empty token.
        AssertSameBytes([.. LmStudioStreams.Text("qwen/qwen3-8b", "Hello", ", \"world\"", " caf\u00e9 \u4e16\u754c", " \ud83d\ude00", "", "\n\ttab\\slash</b>").Usage(12, 6)]);
        AssertSameBytes([.. LmStudioStreams.Text("qwen/qwen3-8b", "a", "b").Finish("length")]);
    }

    private static void AssertSameBytes(IReadOnlyList<string> events)
    {
        var fast = Relay(events, documentOnly: false);
        var document = Relay(events, documentOnly: true);
        Assert.Equal(document.Count, fast.Count);
        for (var i = 0; i < fast.Count; i++)
        {
            Assert.Equal(document[i], fast[i]);
        }
    }

    /// <summary>The client bytes written for each upstream event, one string per event.</summary>
    private static List<string> Relay(IReadOnlyList<string> events, bool documentOnly)
    {
        var pipe = new Pipe();
        using var relay = new SseRelay(pipe.Writer, ClientModel, NullLogger.Instance) { DocumentPathOnly = documentOnly };
        var written = new List<string>();
        foreach (var data in events)
        {
            relay.HandleEvent(Encoding.UTF8.GetBytes(data));
            pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            pipe.Reader.TryRead(out var result);
            written.Add(Encoding.UTF8.GetString(result.Buffer));
            pipe.Reader.AdvanceTo(result.Buffer.End);
        }

        return written;
    }
}
