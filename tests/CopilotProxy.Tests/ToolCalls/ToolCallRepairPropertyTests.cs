using System.Text;
using CopilotProxy.ToolCalls;
using CsCheck;

namespace CopilotProxy.Tests.ToolCalls;

/// <summary>
/// Random answers built from look-alikes of every format's markers, prose, multi-byte text and (sometimes) a real call,
/// cut into random deltas: however the answer is cut, the client gets the same text and the same calls as when it
/// arrives whole, and an answer that yields no call reaches the client byte for byte. Fixed iteration count; a failure
/// prints the seed to rerun it (CsCheck_Seed=... dotnet test ...).
/// </summary>
public sealed class ToolCallRepairPropertyTests
{
    private const long Iterations = 2000;

    // Each marker of each format, cut-off markers, and the text around them that looks like a call and is not.
    private static readonly Gen<string> LookAlike = Gen.OneOf(
        "<tool_call>", "</tool_call>", "<tool_call>get_weather", "<function=", "<parameter=city>", "<seed:tool_call>", "[TOOL_CALLS]", "[ARGS]",
        "[CALL_ID]", "<|python_tag|>", "[get_weather(", "<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>", "<|tool_calls_section_begin|>",
        "<minimax:tool_call>", "<invoke name=\"get_weather\">", "<|channel|>", "<|start|>assistant", " to=functions.", "<|message|>",
        "<|call|>", "<|tool_call|>", "functools[", "<|tool_call>", "call:", "<|\"|>", "<tool_call|>", "{", "}", "[", "]", "(", ")",
        "```", "```json\n", "{\"name\": \"get_weather\"", "\"arguments\": {", "[link](https://x.y)", "<", "<|", "<｜", "é", "日本", "😀",
        " prose ", "\n", ";", ",", "'", "\"", "=", ":", "rm_rf", "get_weather");

    private static readonly Gen<string> RealCall = Gen.OneOf(
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
        "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Lyon\"}",
        "<|tool_call>call:get_weather{city:<|\"|>Oslo<|\"|>}<tool_call|>",
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Rome</arg_value></tool_call>",
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Osaka\"}<|tool_call_end|><|tool_calls_section_end|>");

    private static readonly Gen<(string Content, int[] Cuts)> Answer =
        Gen.Select(LookAlike.Array[0, 12], Gen.Bool, RealCall, Gen.Int[0, 1000].Array[0, 8])
            .Select(t => (t.Item1.Length > 0 && t.Item2 ? string.Concat(t.Item1) + t.Item3 : string.Concat(t.Item1), t.Item4));

    [Fact]
    public void AnyCutting_GivesWhatTheWholeAnswerGives_AndNoCallMeansByteForByte()
    {
        Answer.Sample(answer =>
        {
            var bytes = Encoding.UTF8.GetBytes(answer.Content);
            var whole = ToolCallFormatTests.Feed([bytes], ToolCallFormats.Auto);
            var cuts = answer.Cuts.Select(c => bytes.Length == 0 ? 0 : c % (bytes.Length + 1)).Append(0).Append(bytes.Length).Distinct().Order().ToArray();
            var deltas = cuts.Zip(cuts.Skip(1), (from, to) => bytes[from..to]).ToArray();
            var cut = ToolCallFormatTests.Feed(deltas, ToolCallFormats.Auto);

            Assert.Equal(whole.Sent, cut.Sent);
            Assert.Equal(whole.Calls.Select(c => c.Name + c.Arguments), cut.Calls.Select(c => c.Name + c.Arguments));
            if (cut.Calls.Count == 0)
            {
                Assert.Equal(answer.Content, cut.Sent);
            }
        }, iter: Iterations);
    }
}
