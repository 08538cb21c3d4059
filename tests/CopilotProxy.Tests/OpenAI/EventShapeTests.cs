using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>
/// The remembered event shape lets an event skip the scan only when the scan would say the same: every match must give
/// exactly <see cref="PlainEvent.TryScan"/>'s result, and ordinary text events of one stream must match.
/// </summary>
public sealed class EventShapeTests
{
    // llama.cpp writes the model after the choices (so its position moves with the text); the bench upstream before.
    private static readonly string[] Layouts =
    [
        """{"choices":[{"finish_reason":null,"index":0,"delta":{"content":TEXT}}],"created":1795672868,"id":"chatcmpl-R","model":"tiny-random","system_fingerprint":"b0-unknown","object":"chat.completion.chunk"}""",
        """{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","system_fingerprint":"bench-model","choices":[{"index":0,"delta":{"content":TEXT},"finish_reason":null}]}""",
        """{"choices":[{"finish_reason":null,"index":0,"delta":{"reasoning_content":TEXT}}],"created":1795672868,"id":"chatcmpl-R","model":"tiny-random","object":"chat.completion.chunk"}""",
        """{"choices":[{"finish_reason":null,"index":0,"delta":{"reasoning":TEXT}}],"created":1795672868,"id":"chatcmpl-R","model":"gpt-oss","object":"chat.completion.chunk"}""",
    ];

    private static readonly JsonSerializerOptions Raw = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static byte[] Event(string layout, string text) => Encoding.UTF8.GetBytes(layout.Replace("TEXT", JsonSerializer.Serialize(text, Raw), StringComparison.Ordinal));

    private static byte[] EventRaw(string layout, string token) => Encoding.UTF8.GetBytes(layout.Replace("TEXT", token, StringComparison.Ordinal));

    private static EventShape Remembering(byte[] data, bool anyLayout)
    {
        Assert.True(PlainEvent.TryScan(data, out var scan, anyLayout, acceptReasoning: anyLayout));
        var shape = new EventShape();
        shape.Remember(data, scan);
        return shape;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryMatch_GivesTheScansResult_AndPlainTextAlwaysMatches(bool anyLayout)
    {
        string[] pieces = ["a", " the", "é", "世界", "😀", "\"", "\\", "\n", "\t", "\u0001", "</b>", "\",\"role\":\"x", "null", ""];
        var random = new Random(20261201);
        var layouts = anyLayout ? Layouts : Layouts[..2];
        var matched = 0;
        for (var i = 0; i < 4000; i++)
        {
            var layout = layouts[random.Next(layouts.Length)];
            var first = Event(layout, string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => pieces[random.Next(pieces.Length)])));
            var token = JsonSerializer.Serialize(string.Concat(Enumerable.Range(0, random.Next(0, 5)).Select(_ => pieces[random.Next(pieces.Length)])), Raw);
            var next = EventRaw(layout, token);
            if (!PlainEvent.TryScan(first, out var firstScan, anyLayout, acceptReasoning: anyLayout))
            {
                // An escaped emoji: the scan leaves surrogate escapes to the document path, so there is nothing to remember.
                Assert.Contains("\\ud83d", Encoding.UTF8.GetString(first), StringComparison.OrdinalIgnoreCase);
                continue;
            }

            var shape = new EventShape();
            shape.Remember(first, firstScan);

            var matches = shape.TryMatch(next, out var fromShape);

            var scanned = PlainEvent.TryScan(next, out var fromScan, anyLayout, acceptReasoning: anyLayout);
            if (matches)
            {
                matched++;
                Assert.True(scanned, token);
                Assert.Equal(fromScan, fromShape);
            }

            // No escape in the token: nothing for the scan to check that the shape doesn't.
            Assert.True(matches || token.Contains('\\', StringComparison.Ordinal), $"plain token {token} did not match");
        }

        Assert.True(matched > 1000, $"only {matched} matches");
    }

    [Theory]
    [InlineData("\"a\\\"b\"", "an escape")]
    [InlineData("\"\\ud83d\\ude00\"", "an escaped surrogate pair")]
    [InlineData("\"a\u0001\"", "a raw control character")]
    [InlineData("null", "not a string")]
    [InlineData("\"a\",\"role\":\"b\"", "a second member smuggled into the string's place")]
    [InlineData("\"a\"}],\"x\":[{\"y\":\"b\"", "structure smuggled into the string's place")]
    [InlineData("\"\"\"", "a stray quote")]
    public void TokenThatIsNotOnePlainString_TakesTheScan(string token, string what)
    {
        var shape = Remembering(Event(Layouts[0], "hello"), anyLayout: false);

        Assert.False(shape.TryMatch(EventRaw(Layouts[0], token), out _), what);
    }

    [Fact]
    public void InvalidUtf8_TakesTheScan()
    {
        var shape = Remembering(Event(Layouts[0], "hello"), anyLayout: false);
        var data = Event(Layouts[0], "ab");
        data[Array.IndexOf(data, (byte)'a')] = 0xC3;

        Assert.False(shape.TryMatch(data, out _));
    }

    [Fact]
    public void AnythingElseThatChanged_TakesTheScan()
    {
        var shape = Remembering(Event(Layouts[0], "hello"), anyLayout: false);

        Assert.False(shape.TryMatch(Event(Layouts[0].Replace("1795672868", "1795672869", StringComparison.Ordinal), "next"), out _));
        Assert.False(shape.TryMatch(Event(Layouts[0].Replace("\"finish_reason\":null", "\"finish_reason\":\"stop\"", StringComparison.Ordinal), "next"), out _));
        Assert.False(shape.TryMatch(Event(Layouts[1], "next"), out _));
        Assert.False(shape.TryMatch("{}"u8, out _));
    }

    [Fact]
    public void FinishUsageAndTwoVaryingStrings_AreNotRemembered()
    {
        byte[][] events =
        [
            Event(Layouts[0].Replace("\"finish_reason\":null", "\"finish_reason\":\"stop\"", StringComparison.Ordinal), "a"),
            Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"a","reasoning_content":"b"}}],"model":"m"}"""),
            Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"a"}}],"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"""),
        ];
        foreach (var data in events)
        {
            var shape = Remembering(data, anyLayout: true);

            Assert.False(shape.TryMatch(data, out _), Encoding.UTF8.GetString(data));
        }
    }
}
