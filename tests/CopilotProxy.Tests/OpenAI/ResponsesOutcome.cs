using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CopilotProxy.Tests.OpenAI;

/// <summary>One function call a Responses client got: the item's name, its arguments and the id it answers with.</summary>
internal sealed record ResponsesCall(string Name, string Arguments, string CallId);

/// <summary>
/// What a Responses client ends up with after reading a whole stream, read the way a strict parser (OpenAI's SDK
/// accumulating a response) reads it: every check that would make such a parser fail or disagree is an assertion.
/// </summary>
internal sealed record ResponsesOutcome(string Final, string? Model, IReadOnlyList<string> Items, string? Text, IReadOnlyList<ResponsesCall> Calls)
{
    /// <summary>The first reasoning item's text (its <c>reasoning_text</c> parts), as its deltas built it; null without one.</summary>
    public string? Reasoning { get; private init; }

    /// <summary>
    /// Checks the stream: each event named after its <c>type</c>; <c>sequence_number</c> 0, 1, 2, … with no gap; items
    /// announced at <c>output_index</c> 0, 1, … and each closed with its own <c>output_item.done</c> (same id) before the
    /// end; text and arguments only for an open item, their <c>.done</c> events repeating exactly what the deltas built;
    /// and the final event's <c>response.output</c> equal to the items the stream closed, in order.
    /// </summary>
    public static ResponsesOutcome Check(string sse)
    {
        var events = EventApiRelayTests.ParseEvents(sse);
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.Equal(e.Name, e.Data.GetProperty("type").GetString()));
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Data.GetProperty("sequence_number").GetInt64()));
        Assert.Equal("response.created", events[0].Name);
        var final = events[^1].Name;
        Assert.Contains(final, (string[])["response.completed", "response.incomplete"]);
        Assert.Single(events, e => e.Name == final);

        var open = new Dictionary<int, JsonElement>();
        var parts = new HashSet<(int, int)>();
        var text = new Dictionary<int, StringBuilder>();
        var arguments = new Dictionary<int, StringBuilder>();
        var closed = new List<JsonElement>();
        foreach (var (name, data) in events.Skip(1).SkipLast(1))
        {
            var index = data.TryGetProperty("output_index", out var oi) ? oi.GetInt32() : -1;
            var content = data.TryGetProperty("content_index", out var ci) ? ci.GetInt32() : -1;
            switch (name)
            {
                case "response.output_item.added":
                    Assert.Equal(closed.Count + open.Count, index);
                    open.Add(index, data.GetProperty("item"));
                    text[index] = new StringBuilder();
                    arguments[index] = new StringBuilder();
                    break;
                case "response.content_part.added":
                    Assert.True(open.ContainsKey(index), $"content_part.added for item {index}, which is not open");
                    Assert.True(parts.Add((index, content)));
                    break;
                case "response.output_text.delta":
                    Assert.Contains((index, content), parts);
                    Assert.Equal(open[index].GetProperty("id").GetString(), data.GetProperty("item_id").GetString());
                    text[index].Append(data.GetProperty("delta").GetString());
                    break;
                case "response.reasoning_text.delta":
                    // LM Studio's own reasoning items may skip content_part.added; the proxy's announce it.
                    Assert.Equal("reasoning", open[index].GetProperty("type").GetString());
                    Assert.Equal(open[index].GetProperty("id").GetString(), data.GetProperty("item_id").GetString());
                    text[index].Append(data.GetProperty("delta").GetString());
                    break;
                case "response.output_text.done" or "response.reasoning_text.done":
                    Assert.Contains((index, content), parts);
                    Assert.Equal(text[index].ToString(), data.GetProperty("text").GetString());
                    break;
                case "response.content_part.done":
                    Assert.True(parts.Remove((index, content)));
                    Assert.Equal(text[index].ToString(), data.GetProperty("part").GetProperty("text").GetString());
                    break;
                case "response.function_call_arguments.delta":
                    Assert.Equal("function_call", open[index].GetProperty("type").GetString());
                    Assert.Equal(open[index].GetProperty("id").GetString(), data.GetProperty("item_id").GetString());
                    arguments[index].Append(data.GetProperty("delta").GetString());
                    break;
                case "response.function_call_arguments.done":
                    Assert.Equal(arguments[index].ToString(), data.GetProperty("arguments").GetString());
                    break;
                case "response.output_item.done":
                    Assert.True(open.Remove(index, out var added), $"output_item.done for item {index}, which is not open");
                    Assert.DoesNotContain(parts, p => p.Item1 == index);
                    var item = data.GetProperty("item");
                    Assert.Equal(added.GetProperty("id").GetString(), item.GetProperty("id").GetString());
                    Assert.Equal(added.GetProperty("type").GetString(), item.GetProperty("type").GetString());
                    if (item.GetProperty("type").GetString() == "function_call")
                    {
                        Assert.Equal(added.GetProperty("call_id").GetString(), item.GetProperty("call_id").GetString());
                        Assert.Equal(arguments[index].ToString(), item.GetProperty("arguments").GetString());
                    }
                    else if (item.GetProperty("type").GetString() is "message" or "reasoning")
                    {
                        Assert.Equal(text[index].ToString(), string.Concat(item.GetProperty("content").EnumerateArray().Select(p => p.GetProperty("text").GetString())));
                    }

                    closed.Add(item);
                    break;
                default:
                    Assert.True(index < 0 || open.ContainsKey(index), $"{name} for item {index}, which is not open");
                    break;
            }
        }

        Assert.Empty(open);
        var response = events[^1].Data.GetProperty("response");
        var output = response.GetProperty("output").EnumerateArray().ToArray();
        Assert.Equal(closed.Count, output.Length);
        for (var i = 0; i < output.Length; i++)
        {
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(closed[i].GetRawText()), JsonNode.Parse(output[i].GetRawText())),
                $"output[{i}] differs from the item the stream closed:\n{output[i].GetRawText()}\n{closed[i].GetRawText()}");
        }

        var types = closed.Select(i => i.GetProperty("type").GetString()!).ToArray();
        var message = closed.Cast<JsonElement?>().FirstOrDefault(i => i!.Value.GetProperty("type").GetString() == "message");
        var calls = closed.Where(i => i.GetProperty("type").GetString() == "function_call")
            .Select(i => new ResponsesCall(i.GetProperty("name").GetString()!, i.GetProperty("arguments").GetString()!, i.GetProperty("call_id").GetString()!))
            .ToArray();
        Assert.All(closed.Where(i => i.GetProperty("type").GetString() == "function_call"), i => Assert.Equal("completed", i.GetProperty("status").GetString()));
        var messageText = message is { } m ? string.Concat(m.GetProperty("content").EnumerateArray().Select(p => p.GetProperty("text").GetString())) : null;
        var model = response.TryGetProperty("model", out var mo) ? mo.GetString() : null;
        var reasoning = closed.Cast<JsonElement?>().FirstOrDefault(i => i!.Value.GetProperty("type").GetString() == "reasoning");
        return new ResponsesOutcome(final, model, types, messageText, calls)
        {
            Reasoning = reasoning is { } r ? string.Concat(r.GetProperty("content").EnumerateArray().Select(p => p.GetProperty("text").GetString())) : null,
        };
    }
}
