using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.ToolCalls;

/// <summary>
/// One transcript per format, in the form the model's own chat template and llama.cpp's and vLLM's parsers describe,
/// fed in two pieces split at every byte and one byte at a time: every split gives the same text and the same calls.
/// </summary>
public sealed class ToolCallFormatTests
{
    internal static readonly JsonDocument Schemas = JsonDocument.Parse("""
        [
          {"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}}}}},
          {"type":"function","function":{"name":"write_file","parameters":{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}}}}},
          {"type":"function","function":{"name":"set_options","parameters":{"type":"object","properties":{"enabled":{"type":"boolean"},"ratio":{"type":"number"},"tags":{"type":"array"},"extra":{"type":"object"},"note":{"type":["string","null"]},"count":{"type":"integer"}}}}}
        ]
        """);

    internal static readonly OfferedTool[] Tools = OfferedTool.FromChatTools(Schemas.RootElement.EnumerateArray());

    public static TheoryData<string, string, string, string[]> Transcripts => new()
    {
        { "hermes", "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "Let me check.\n",
            ["get_weather {\"city\":\"Paris\"}"] },
        { "qwen3-coder", "<tool_call>\n<function=write_file>\n<parameter=path>\nsrc/a.py\n</parameter>\n<parameter=content>\ndef f(x = \"1\"):\n    return x\n\n</parameter>\n</function>\n</tool_call>", "",
            ["write_file {\"path\":\"src/a.py\",\"content\":\"def f(x = \\\"1\\\"):\\n    return x\\n\"}"] },
        { "qwen3-coder", "<tool_call>\n<function=set_options>\n<parameter=enabled>\ntrue\n</parameter>\n<parameter=ratio>\n0.5\n</parameter>\n<parameter=tags>\n[\"a\", \"b\"]\n</parameter>\n<parameter=extra>\n{\"k\": 1}\n</parameter>\n<parameter=note>\nnull\n</parameter>\n<parameter=count>\n-3\n</parameter>\n</function>\n</tool_call>", "",
            ["set_options {\"enabled\":true,\"ratio\":0.5,\"tags\":[\"a\",\"b\"],\"extra\":{\"k\":1},\"note\":null,\"count\":-3}"] },
        { "seed-oss", "<seed:tool_call>\n<function=get_weather>\n<parameter=city>Oslo</parameter>\n<parameter=days>3</parameter>\n</function>\n</seed:tool_call>\n<seed:tool_call>\n<function=get_weather>\n<parameter=city>Bergen</parameter>\n</function>\n</seed:tool_call>", "",
            ["get_weather {\"city\":\"Oslo\",\"days\":3}", "get_weather {\"city\":\"Bergen\"}"] },
        { "glm", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Rome</arg_value>\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>", "",
            ["get_weather {\"city\":\"Rome\",\"days\":2}"] },
        { "glm", "I'll look.<tool_call>get_weather<arg_key>city</arg_key><arg_value>Lima</arg_value></tool_call><tool_call>set_options<arg_key>enabled</arg_key><arg_value>false</arg_value></tool_call>", "I'll look.",
            ["get_weather {\"city\":\"Lima\"}", "set_options {\"enabled\":false}"] },
        { "mistral", "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nice\"}}]", "",
            ["get_weather {\"city\":\"Nice\"}"] },
        { "mistral", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Lyon\"}", "", ["get_weather {\"city\": \"Lyon\"}"] },
        { "mistral", "Checking both.[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{\"city\": \"Metz\"}[TOOL_CALLS]get_weather[CALL_ID]f5g6h7i8j[ARGS]{\"city\": \"Brest\"}", "Checking both.",
            ["get_weather {\"city\": \"Metz\"}", "get_weather {\"city\": \"Brest\"}"] },
        { "llama3", "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Austin\"}}", "", ["get_weather {\"city\": \"Austin\"}"] },
        { "llama3", "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Austin\"}}; {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Dallas\"}}", "",
            ["get_weather {\"city\": \"Austin\"}", "get_weather {\"city\": \"Dallas\"}"] },
        { "pythonic", "[get_weather(city='Kyoto', days=2), set_options(enabled=True, note=None, tags=['x', \"y\"], extra={'k': 1.5})]", "",
            ["get_weather {\"city\":\"Kyoto\",\"days\":2}", "set_options {\"enabled\":true,\"note\":null,\"tags\":[\"x\",\"y\"],\"extra\":{\"k\":1.5}}"] },
        { "deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Seoul\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "",
            ["get_weather {\"city\": \"Seoul\"}"] },
        { "deepseek", "Both:<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Busan\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Daegu\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "Both:",
            ["get_weather {\"city\": \"Busan\"}", "get_weather {\"city\": \"Daegu\"}"] },
        { "kimi-k2", "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Osaka\"}<|tool_call_end|><|tool_call_begin|>functions.write_file:1<|tool_call_argument_begin|>{\"path\": \"a.html\", \"content\": \"<p>x</p>\"}<|tool_call_end|><|tool_calls_section_end|>", "",
            ["get_weather {\"city\": \"Osaka\"}", "write_file {\"path\": \"a.html\", \"content\": \"<p>x</p>\"}"] },
        // Lenient endings: the answer stopped on its own (finish_reason "stop") after a complete call, but the closing tags
        // never came (LM Studio drops them as stop tokens); llama.cpp's parsers take these too.
        { "qwen3-coder", "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n", "", ["get_weather {\"city\":\"Paris\"}"] },
        { "deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Busan\"}<｜tool▁call▁end｜>", "",
            ["get_weather {\"city\": \"Busan\"}"] },
        { "deepseek", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Seoul\"}\n```", "",
            ["get_weather {\"city\": \"Seoul\"}"] },
        { "kimi-k2", "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Osaka\"}<|tool_call_end|>", "",
            ["get_weather {\"city\": \"Osaka\"}"] },
        { "kimi-k2", "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Kobe\"}<|tool_call_end|><|tool_call_begin|>functions.get_weather:1<|tool_call_argument_begin|>{\"city\": \"Nara\"}\n", "",
            ["get_weather {\"city\": \"Kobe\"}", "get_weather {\"city\": \"Nara\"}"] },
        { "minimax-m2", "<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">Cairo</parameter>\n<parameter name=\"days\">5</parameter>\n</invoke>\n</minimax:tool_call>", "",
            ["get_weather {\"city\":\"Cairo\",\"days\":5}"] },
        { "harmony", "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Quito\"}<|call|>", "",
            ["get_weather {\"city\": \"Quito\"}"] },
        { "harmony", "<|channel|>commentary to=functions.get_weather<|message|>{\"city\": \"Lagos\"}", "", ["get_weather {\"city\": \"Lagos\"}"] },
        // The recipient in the role header, before the channel (llama.cpp's gpt-oss tests): after the prompt's
        // "<|start|>assistant" the answer begins with " to=", or a later message repeats the whole role header (read
        // before the start-only marker too: kept as its guard).
        { "harmony", " to=functions.get_weather<|channel|>commentary json<|message|>{\"city\": \"Accra\"}<|call|>", "",
            ["get_weather {\"city\": \"Accra\"}"] },
        { "harmony", " to=functions.get_weather<|channel|>analysis <|constrain|>json<|message|>{\"city\": \"Dakar\"}", "",
            ["get_weather {\"city\": \"Dakar\"}"] },
        { "harmony", "<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{\"city\": \"Tunis\"}<|call|>", "",
            ["get_weather {\"city\": \"Tunis\"}"] },
        { "granite", "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Porto\"}}]", "", ["get_weather {\"city\":\"Porto\"}"] },
        { "phi4-mini", " functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Delhi\"}}]", "", ["get_weather {\"city\":\"Delhi\"}"] },
        { "gemma4", "Sure.<|tool_call>call:get_weather{city:<|\"|>San Francisco<|\"|>,days:3}<tool_call|><|tool_call>call:set_options{tags:[<|\"|>a<|\"|>,<|\"|>b<|\"|>],extra:{k:<|\"|>v<|\"|>},enabled:true}<tool_call|>", "Sure.",
            ["get_weather {\"city\":\"San Francisco\",\"days\":3}", "set_options {\"tags\":[\"a\",\"b\"],\"extra\":{\"k\":\"v\"},\"enabled\":true}"] },
        // Olmo 3 (vLLM's olmo3 parser): one Python call per line inside the tag, Python or JSON literals.
        { "olmo3", "I'll check both.\n<function_calls>\nget_weather(city='Oslo', days=2)\nset_options(enabled=true, note=None, tags=[\"a\"], extra={'k': 1.5})\n</function_calls>", "I'll check both.\n",
            ["get_weather {\"city\":\"Oslo\",\"days\":2}", "set_options {\"enabled\":true,\"note\":null,\"tags\":[\"a\"],\"extra\":{\"k\":1.5}}"] },
        { "json", "```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Turin\"}}\n```", "", ["get_weather {\"city\":\"Turin\"}"] },
        { "json", "[{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Pisa\"}}, {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Bari\\\"}\"}]", "",
            ["get_weather {\"city\":\"Pisa\"}", "get_weather {\"city\": \"Bari\"}"] },
    };

    [Theory]
    [MemberData(nameof(Transcripts))]
    public void FormatTranscript_GivesTheSameCallsAndText_AtEverySplit(string format, string content, string text, string[] calls)
    {
        foreach (var formats in new[] { ToolCallFormats.Auto, ToolCallFormats.ForSetting(format)! })
        {
            foreach (var deltas in Splits(content))
            {
                var (sent, repaired, repair) = Feed(deltas, formats);
                Assert.Equal(text, sent);
                Assert.Equal(calls.Length, repaired.Count);
                for (var i = 0; i < calls.Length; i++)
                {
                    var space = calls[i].IndexOf(' ', StringComparison.Ordinal);
                    Assert.Equal(calls[i][..space], repaired[i].Name);
                    Assert.True(JsonNode.DeepEquals(JsonNode.Parse(calls[i][(space + 1)..]), JsonNode.Parse(repaired[i].Arguments)),
                        $"{format}: expected {calls[i][(space + 1)..]}, got {repaired[i].Arguments}");
                }

                Assert.Equal(repaired.Count, repaired.Select(c => c.Id).Distinct().Count());
                Assert.Equal(format, repair.Format);
            }
        }
    }

    [Fact]
    public void MistralCalls_GetNineCharacterIds_TheModelsOwnWhenItGaveOne()
    {
        var (_, calls, _) = Feed([Encoding.UTF8.GetBytes("[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{\"city\": \"Metz\"}[TOOL_CALLS]get_weather[ARGS]{}")], ToolCallFormats.Auto);
        Assert.Equal("a1b2c3d4e", calls[0].Id);
        Assert.Matches("^[A-Za-z0-9]{9}$", calls[1].Id);
    }

    [Fact]
    public void FormatNotEnabledForTheModel_IsLeftAsText()
    {
        var content = "<|tool_call>call:get_weather{city:<|\"|>Oslo<|\"|>}<tool_call|>";
        var (sent, calls, _) = Feed([Encoding.UTF8.GetBytes(content)], ToolCallFormats.ForSetting("hermes")!);
        Assert.Equal(content, sent);
        Assert.Empty(calls);
    }

    public static TheoryData<string, ToolCallRepairRejection?> LookAlikes => new()
    {
        { "<tool_call>\n<function=rm_rf>\n<parameter=path>/</parameter>\n</function>\n</tool_call>", ToolCallRepairRejection.UnknownTool },
        { "<tool_call>\n<function=get_weather>\n<parameter=days>\nthree\n</parameter>\n</function>\n</tool_call>", ToolCallRepairRejection.InvalidArguments },
        { "[TOOL_CALLS]rm_rf[ARGS]{}", ToolCallRepairRejection.UnknownTool },
        { "[TOOL_CALLS]get_weather[ARGS]{\"city\": }", ToolCallRepairRejection.InvalidJson },
        { "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>rm_rf<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>", ToolCallRepairRejection.UnknownTool },
        // Unclosed and incomplete: a call whose arguments or value were cut off stays text, even when the answer "stopped".
        { "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Osa", ToolCallRepairRejection.Unclosed },
        { "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Osaka\"}<|tool_call_e", ToolCallRepairRejection.Unclosed },
        { "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Busan\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Dae", ToolCallRepairRejection.Unclosed },
        { "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": ", ToolCallRepairRejection.Unclosed },
        { "<tool_call>\n<function=get_weather>\n<parameter=city>\nPar", ToolCallRepairRejection.Unclosed },
        { "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n", ToolCallRepairRejection.Unclosed },
        { "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\nThen I will", ToolCallRepairRejection.Unclosed },
        { "<|channel|>final<|message|>The weather is fine.", ToolCallRepairRejection.NotAToolCall },
        { " to=functions.rm_rf<|channel|>commentary json<|message|>{}<|call|>", ToolCallRepairRejection.UnknownTool },
        // Mid-prose, to= is a word: held before the start-only marker too, kept as that marker's guard.
        { "Set x to=functions.get_weather<|channel|>commentary json<|message|>{}", ToolCallRepairRejection.NotAToolCall },
        { "to=functions.get_weather is how gpt-oss names a tool.", ToolCallRepairRejection.NotAToolCall },
        { "[see the docs](https://example.com) and [1, 2]", ToolCallRepairRejection.NotAToolCall },
        { "[rm_rf(path='/')]", ToolCallRepairRejection.UnknownTool },
        { "functools is a Python module.", null },
        { "Olmo wraps calls in <function_calls> tags, one per line.", ToolCallRepairRejection.NotAToolCall },
        { "<function_calls>\nrm_rf(path='/')\n</function_calls>", ToolCallRepairRejection.UnknownTool },
        { "<function_calls>\nget_weather(city='Oslo')\n</function_calls>\nThen I will", ToolCallRepairRejection.TextAfterCall },
        { "<function_calls>\nget_weather(city='Oslo')\nand then", ToolCallRepairRejection.InvalidJson },
        { "<function_calls>\nget_weather(city='Os", ToolCallRepairRejection.Unclosed },
        { "Use the <tool_call> tag, then <|tool_call> or [TOOL_CALLS] in prose.", ToolCallRepairRejection.NotAToolCall },
        { "<|tool_call>call:get_weather{city:<|\"|>Oslo}<tool_call|>", ToolCallRepairRejection.InvalidJson },
        { "<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"days\">soon</parameter>\n</invoke>\n</minimax:tool_call>", ToolCallRepairRejection.InvalidArguments },
    };

    [Theory]
    [MemberData(nameof(LookAlikes))]
    public void LookAlike_PassesThroughByteForByte_AtEverySplit(string content, ToolCallRepairRejection? rejection)
    {
        foreach (var deltas in Splits(content))
        {
            var (sent, calls, repair) = Feed(deltas, ToolCallFormats.Auto);
            Assert.Equal(content, sent);
            Assert.Empty(calls);
            Assert.Equal(rejection, repair.Rejection);
        }
    }

    [Fact]
    public void CallCutOffByTheTokenLimit_PassesThrough_AndSaysSo()
    {
        var logger = new ToolCallRepairTests.ListLogger();
        using var repair = new ToolCallRepair(Tools, "devstral", logger);
        var content = "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Par";
        Assert.False(repair.Append(Encoding.UTF8.GetBytes(content)));
        repair.Finish(truncated: true);
        Assert.Equal(content, Encoding.UTF8.GetString(repair.Released));
        Assert.Empty(repair.Calls);
        Assert.Contains(logger.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("token limit", StringComparison.Ordinal));
    }

    [Fact]
    public void PlainText_PassesEveryDeltaUntouched_WhileNoMarkerByteAppears()
    {
        using var repair = new ToolCallRepair(Tools, "m", new ToolCallRepairTests.ListLogger());
        Assert.False(repair.Append("The"u8) && repair.Released.Length == 0);
        Assert.True(repair.Append(" answer is"u8));
        Assert.True(repair.Append(" 42, for the functools module too."u8));
        Assert.False(repair.Holding);
    }

    internal static IEnumerable<byte[][]> Splits(string content)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        yield return [bytes];
        for (var i = 1; i < bytes.Length; i++)
        {
            yield return [bytes[..i], bytes[i..]];
        }

        yield return [.. bytes.Select(b => new[] { b })];
    }

    internal static (string Sent, IReadOnlyList<RepairedToolCall> Calls, ToolCallRepair Repair) Feed(IEnumerable<byte[]> deltas, ToolCallFormats formats)
    {
        var repair = new ToolCallRepair(Tools, "m", new ToolCallRepairTests.ListLogger(), formats);
        var sent = new List<byte>();
        foreach (var delta in deltas)
        {
            sent.AddRange(repair.Append(delta) ? delta : repair.Released.ToArray());
        }

        repair.Finish(truncated: false);
        sent.AddRange(repair.Released.ToArray());
        repair.Dispose();
        return (Encoding.UTF8.GetString([.. sent]), repair.Calls, repair);
    }
}

/// <summary>The names config.yaml accepts and the formats the repair has are the same list.</summary>
public sealed class ToolCallFormatsTests
{
    [Fact]
    public void ConfigNames_AreTheRepairsFormats()
    {
        Assert.Equal(CopilotProxy.Configuration.ToolCallFormatNames.Formats, ToolCallFormats.All.Select(f => f.Name));
    }
}
