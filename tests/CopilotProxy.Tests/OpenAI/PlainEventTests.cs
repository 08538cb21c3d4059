using System.Text;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>
/// The fast path copies an event's bytes, so it may only take an event the document path would write identically:
/// compact JSON with nothing after it. The scan proves that in its one pass; these tests put whitespace everywhere
/// JSON allows it, including inside values the scan skips or hands to another reader.
/// </summary>
public sealed class PlainEventTests
{
    // llama.cpp's shape: an object the scan skips (timings), an array inside a skipped value (logprobs), usage read by
    // its own reader, escaped text and an escaped key.
    private const string Event =
        """{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant","content":"a \"b\"\n"},"logprobs":{"content":[{"t":1,"u":[2,3]}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18},"timings":{"prompt_n":12,"predicted_per_second":41.5},"x\u0041":[true,null,{}]}""";

    [Fact]
    public void CompactEvent_TakesTheFastPath()
    {
        Assert.True(PlainEvent.TryScan(Encoding.UTF8.GetBytes(Event), out var scan));
        Assert.Equal("stop", scan.Finish);
        Assert.Equal(12, scan.PromptTokens);
        Assert.True(scan.Timings);
    }

    [Fact]
    public void WhitespaceAnywhereBetweenTokens_IsRefusedByTheCopyingScan_AndAcceptedByTheReadingOne()
    {
        var gaps = Gaps(Event);
        Assert.True(gaps.Count > 60, $"only {gaps.Count} places to put whitespace");
        foreach (var at in gaps)
        {
            foreach (var space in new[] { " ", "\t", "\r\n" })
            {
                var spaced = Encoding.UTF8.GetBytes(Event.Insert(at, space));
                Assert.False(PlainEvent.TryScan(spaced, out _), $"took the fast path with whitespace at {at}: {Event.Insert(at, space)}");
                Assert.True(PlainEvent.TryScan(spaced, out var scan, anyLayout: true), $"refused whitespace at {at} when copying only strings");
                Assert.Equal(6, scan.CompletionTokens);
            }
        }
    }

    [Theory]
    [InlineData("x")]
    [InlineData("{}")]
    [InlineData(" 1")]
    public void BytesAfterTheObject_AreRefusedEvenWhenLayoutDoesNotMatter(string trailing)
    {
        var data = Encoding.UTF8.GetBytes(Event + trailing);
        Assert.False(PlainEvent.TryScan(data, out _));
        Assert.False(PlainEvent.TryScan(data, out _, anyLayout: true));
    }

    [Fact]
    public void TrailingWhitespace_MattersOnlyToTheCopyingScan()
    {
        var data = Encoding.UTF8.GetBytes(Event + " \n");
        Assert.False(PlainEvent.TryScan(data, out _));
        Assert.True(PlainEvent.TryScan(data, out _, anyLayout: true));
    }

    /// <summary>Every index outside a string where JSON allows whitespace: before and after each token.</summary>
    private static List<int> Gaps(string json)
    {
        var gaps = new List<int> { 0 };
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                    gaps.Add(i + 1);
                }

                continue;
            }

            if (c == '"')
            {
                gaps.Add(i);
                inString = true;
            }
            else if (c is '{' or '}' or '[' or ']' or ':' or ',')
            {
                gaps.Add(i);
                gaps.Add(i + 1);
            }
        }

        return [.. gaps.Distinct().Where(g => g < json.Length)];
    }
}
