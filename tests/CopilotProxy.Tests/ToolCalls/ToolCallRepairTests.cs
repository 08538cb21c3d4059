using System.Text;
using System.Text.Json;
using CopilotProxy.OpenAI;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.ToolCalls;

public sealed class ToolCallRepairTests
{
    private static readonly OfferedTool[] Tools = ["read_file", "get_weather"];

    private const string Call = """{"name": "read_file", "arguments": {"path": "src/a.cs"}}""";

    public static TheoryData<string, string, string[]> Repaired => new()
    {
        // content, text the client still sees, "name args" per call
        { "<tool_call>\n" + Call + "\n</tool_call>", "", ["read_file {\"path\": \"src/a.cs\"}"] },
        { "\n\n  <tool_call>" + Call + "</tool_call>\n", "", ["read_file {\"path\": \"src/a.cs\"}"] },
        { "```xml\n<tool_call>\n" + Call + "\n</tool_call>\n```", "", ["read_file {\"path\": \"src/a.cs\"}"] },
        { "Let me look at the file.\n<tool_call>\n" + Call + "\n</tool_call>", "Let me look at the file.\n", ["read_file {\"path\": \"src/a.cs\"}"] },
        { "<think>The user wants the weather.</think>\n\n<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Zürich\"}}</tool_call>",
            "<think>The user wants the weather.</think>\n\n", ["get_weather {\"city\":\"Zürich\"}"] },
        { "<tool_call>" + Call + "</tool_call>\n<tool_call>{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}</tool_call>",
            "", ["read_file {\"path\": \"src/a.cs\"}", "get_weather {\"city\":\"Oslo\"}"] },
        { Call, "", ["read_file {\"path\": \"src/a.cs\"}"] },
        { "  " + Call + "\n", "", ["read_file {\"path\": \"src/a.cs\"}"] },
        { """{"name":"get_weather","parameters":{"city":"Lima"}}""", "", ["get_weather {\"city\":\"Lima\"}"] },
        { """{"arguments":"{\"city\":\"Lima\"}","name":"get_weather"}""", "", ["get_weather {\"city\":\"Lima\"}"] },
        { """{"name":"get_weather"}""", "", ["get_weather {}"] },
        { "[" + Call + """, {"name":"get_weather","arguments":{"city":"Rome"}}]""", "", ["read_file {\"path\": \"src/a.cs\"}", "get_weather {\"city\":\"Rome\"}"] },
        { "```json\n" + Call + "\n```\n", "", ["read_file {\"path\": \"src/a.cs\"}"] },
        { "<tool_call>[" + Call + "]</tool_call>", "", ["read_file {\"path\": \"src/a.cs\"}"] },
    };

    public static TheoryData<string, ToolCallRepairRejection?> PassedThrough => new()
    {
        { "Hello, world. Nothing to see here.", null },
        { "if a < b and b <tool then <tool_calls> is not a tag", null },
        { "<think>planning</think>The answer is 42.", null },
        { "```python\nprint('hi')\n```", ToolCallRepairRejection.NotAToolCall },
        { "`inline` code first", ToolCallRepairRejection.NotAToolCall },
        { """{"answer": 42}""", ToolCallRepairRejection.NotAToolCall },
        { "[link](https://example.com) first", ToolCallRepairRejection.NotAToolCall },
        { "[1, 2, 3]", ToolCallRepairRejection.NotAToolCall },
        { """{"name": "delete_everything", "arguments": {}}""", ToolCallRepairRejection.UnknownTool },
        { "<tool_call>{\"name\": \"delete_everything\", \"arguments\": {}}</tool_call>", ToolCallRepairRejection.UnknownTool },
        { "<tool_call>{\"name\": \"read_file\", \"arguments\": {\"path\": }</tool_call>", ToolCallRepairRejection.InvalidJson },
        { "<tool_call>{\"name\": \"read_file\", \"arguments\": \"not json\"}</tool_call>", ToolCallRepairRejection.InvalidJson },
        { "<tool_call>{\"arguments\": {}}</tool_call>", ToolCallRepairRejection.MissingName },
        { "<tool_call>" + Call, ToolCallRepairRejection.Unclosed },
        { "<tool_call>" + Call + "</tool_call>\nI have read the file.", ToolCallRepairRejection.TextAfterCall },
        { Call + " and then some prose", ToolCallRepairRejection.TextAfterCall },
        { """{"name": "read_file", "arguments": {"path": "a"}""", ToolCallRepairRejection.InvalidJson },
        { "Grüße aus Köln: 日本語のテキスト 🎉 — and a lone < sign, then <tool", null },
        { "   \n", null },
    };

    [Theory]
    [MemberData(nameof(Repaired))]
    public void ToolCallInText_BecomesStructuredCalls_AtEverySplitPoint(string content, string text, string[] calls)
    {
        foreach (var deltas in Splits(content))
        {
            var (sent, repaired, _) = Feed(deltas);
            Assert.Equal(text, sent);
            Assert.Equal(calls, repaired.Select(c => c.Name + " " + c.Arguments));
            Assert.All(repaired, c => Assert.StartsWith("call_", c.Id));
            Assert.Equal(repaired.Count, repaired.Select(c => c.Id).Distinct().Count());
        }
    }

    [Theory]
    [MemberData(nameof(PassedThrough))]
    public void TextThatIsNoToolCall_IsReleasedByteForByte_AtEverySplitPoint(string content, ToolCallRepairRejection? rejection)
    {
        foreach (var deltas in Splits(content))
        {
            var (sent, calls, repair) = Feed(deltas);
            Assert.Equal(content, sent);
            Assert.Empty(calls);
            Assert.Equal(rejection, repair.Rejection);
        }
    }

    [Fact]
    public void BlockCutOffByTheTokenLimit_IsPassedThroughAndLoggedAsTruncated()
    {
        var logger = new ListLogger();
        using var repair = new ToolCallRepair(Tools, "qwen3-8b", logger);
        var content = "<tool_call>{\"name\": \"read_file\", \"argu";
        Assert.False(repair.Append(Encoding.UTF8.GetBytes(content)));
        Assert.True(repair.Released.IsEmpty);
        repair.Finish(truncated: true);
        Assert.Equal(content, Encoding.UTF8.GetString(repair.Released));
        Assert.Empty(repair.Calls);
        Assert.Equal(ToolCallRepairRejection.Truncated, repair.Rejection);
        var line = Assert.Single(logger.Lines, l => l.Level == LogLevel.Information);
        Assert.Contains("qwen3-8b", line.Message);
        Assert.Contains("token limit", line.Message);
    }

    [Fact]
    public void UnknownToolName_IsLoggedWithTheName()
    {
        var logger = new ListLogger();
        Feed(["<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>"], logger);
        var line = Assert.Single(logger.Lines, l => l.Level == LogLevel.Information);
        Assert.Contains("\"rm_rf\"", line.Message);
    }

    [Fact]
    public void PlainTextDeltas_PassUntouchedWithoutBeingHeld()
    {
        using var repair = new ToolCallRepair(Tools, "m", new ListLogger());
        foreach (var delta in new[] { "The", " file", " looks", " fine", " (a < b holds).", " {braces} and [brackets] later", " ```too```" })
        {
            Assert.True(repair.Append(Encoding.UTF8.GetBytes(delta)), delta);
            Assert.False(repair.Holding);
        }
    }

    [Fact]
    public void TextBeforeABlock_IsSentAsItArrives_AndOnlyAPossibleTagIsHeld()
    {
        using var repair = new ToolCallRepair(Tools, "m", new ListLogger());
        Assert.True(repair.Append("I will read it."u8));
        Assert.False(repair.Append(" Now <tool"u8));
        Assert.Equal(" Now ", Encoding.UTF8.GetString(repair.Released));
        Assert.False(repair.Append("_call>{\"name\":\"read_file\"}"u8));
        Assert.True(repair.Released.IsEmpty);
        Assert.False(repair.Append("</tool_call>"u8));
        Assert.True(repair.Holding);
        repair.Finish(truncated: false);
        Assert.Equal("read_file", Assert.Single(repair.Calls).Name);
    }

    [Fact]
    public void PossibleTagThatTurnsOutToBeText_IsReleasedWithTheNextDelta()
    {
        using var repair = new ToolCallRepair(Tools, "m", new ListLogger());
        Assert.True(repair.Append("x "u8));
        Assert.False(repair.Append("<to"u8));
        Assert.True(repair.Released.IsEmpty);
        Assert.False(repair.Append("ol> is an HTML-ish word"u8));
        Assert.Equal("<tool> is an HTML-ish word", Encoding.UTF8.GetString(repair.Released));
        Assert.False(repair.Holding);
        Assert.True(repair.Append(" and more text"u8));
    }

    [Fact]
    public void BareJsonAnswer_IsReleasedAsSoonAsAKeyRulesOutACall()
    {
        using var repair = new ToolCallRepair(Tools, "m", new ListLogger());
        Assert.False(repair.Append("{\"na"u8));
        Assert.True(repair.Released.IsEmpty);
        Assert.False(repair.Append("me\": \"read_file\", \"colour\": 1"u8));
        Assert.Equal("{\"name\": \"read_file\", \"colour\": 1", Encoding.UTF8.GetString(repair.Released));
        Assert.True(repair.Append(", \"more\": 2}"u8));
    }

    [Fact]
    public void RealToolCallsFromTheUpstream_StopTheRepairAndReleaseHeldText()
    {
        using var repair = new ToolCallRepair(Tools, "m", new ListLogger());
        Assert.False(repair.Append("  "u8));
        repair.Stop();
        Assert.Equal("  ", Encoding.UTF8.GetString(repair.Released));
        Assert.True(repair.Append("<tool_call>"u8));
        repair.Finish(truncated: false);
        Assert.Empty(repair.Calls);
    }

    [Fact]
    public void EscapedJsonContent_IsUnescapedBeforeMatching()
    {
        using var document = JsonDocument.Parse("""["\u003ctool_call\u003e{\"name\":\"read_file\",\"arguments\":{}}\u003c/tool_call\u003e"]""");
        using var repair = new ToolCallRepair(Tools, "m", new ListLogger());
        Assert.False(repair.Append(document.RootElement[0]));
        repair.Finish(truncated: false);
        Assert.Equal("read_file {}", string.Join(",", repair.Calls.Select(c => c.Name + " " + c.Arguments)));
    }

    [Fact]
    public void StringDeltas_FromTypedTranslations_WorkTheSame()
    {
        using var repair = new ToolCallRepair(Tools, "m", new ListLogger());
        Assert.True(repair.Append("Grüße "));
        Assert.False(repair.Append("<tool_call>" + Call));
        Assert.False(repair.Append("</tool_call>"));
        repair.Finish(truncated: false);
        Assert.Equal("read_file", Assert.Single(repair.Calls).Name);
    }

    /// <summary>The whole content in one delta, every two-delta split at each byte boundary, and one byte per delta.</summary>
    private static IEnumerable<byte[][]> Splits(string content)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        yield return [bytes];
        for (var i = 1; i < bytes.Length; i++)
        {
            yield return [bytes[..i], bytes[i..]];
        }

        yield return [.. bytes.Select(b => new[] { b })];
    }

    private static (string Sent, IReadOnlyList<RepairedToolCall> Calls, ToolCallRepair Repair) Feed(IEnumerable<byte[]> deltas, ILogger? logger = null)
    {
        var repair = new ToolCallRepair(Tools, "m", logger ?? new ListLogger());
        var sent = new List<byte>();
        foreach (var delta in deltas)
        {
            if (repair.Append(delta))
            {
                sent.AddRange(delta);
            }
            else
            {
                sent.AddRange(repair.Released.ToArray());
            }
        }

        repair.Finish(truncated: false);
        sent.AddRange(repair.Released.ToArray());
        repair.Dispose();
        return (Encoding.UTF8.GetString([.. sent]), repair.Calls, repair);
    }

    private static IEnumerable<byte[]> Feed(string[] deltas) => deltas.Select(Encoding.UTF8.GetBytes);

    private static void Feed(string[] deltas, ILogger logger) => Feed(Feed(deltas), logger);

    internal sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((logLevel, formatter(state, exception)));
    }
}
