using System.Text;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.Ollama;

/// <summary>A tool call put back together from its fragments.</summary>
/// <param name="Arguments">The arguments as a JSON object; null when the model produced text that is not a JSON object.</param>
/// <param name="RawArguments">The concatenated argument text exactly as the upstream streamed it.</param>
public sealed record CompletedToolCall(int Index, string Id, string Name, JsonDocument? Arguments, string RawArguments);

/// <summary>
/// Collects OpenAI tool-call fragments by <c>index</c> until the turn ends, because Ollama clients expect every call whole,
/// with <c>arguments</c> as a JSON object (docs/protocol.md §2.4, §5 #15). OpenAI streams the arguments as pieces of one JSON
/// string; only the finished concatenation can be parsed.
/// </summary>
public sealed class ToolCallAccumulator
{
    private readonly List<Builder?> _calls = [];

    public int Count => _calls.Count(c => c is not null);

    /// <summary>Adds the fragments of one <c>delta.tool_calls</c> (or a whole <c>message.tool_calls</c>) array.</summary>
    public void Add(JsonElement toolCalls)
    {
        if (toolCalls.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        var position = 0;
        foreach (var call in toolCalls.EnumerateArray())
        {
            if (call.ValueKind == JsonValueKind.Object)
            {
                // A whole (non-streamed) message may omit index; the position in the array stands in for it.
                var index = UpstreamJson.ToolCallIndex(call, position);
                AddFragment(index, call);
            }

            position++;
        }
    }

    /// <summary>Adds a call that arrived whole (one the tool-call repair made out of text), after the calls already here.</summary>
    public void AddWhole(string id, string name, string arguments)
    {
        var builder = new Builder { Id = id, Name = name };
        builder.Arguments.Append(arguments);
        _calls.Add(builder);
    }

    /// <summary>The calls in index order. An empty argument text means "no arguments", which is <c>{}</c>.</summary>
    public List<CompletedToolCall> Complete()
    {
        var completed = new List<CompletedToolCall>(_calls.Count);
        for (var index = 0; index < _calls.Count; index++)
        {
            if (_calls[index] is not { } call)
            {
                continue;
            }

            var raw = call.Arguments.ToString();
            // LM Studio has sent empty ids, and then rejects them when they come back in the history (docs/protocol.md §3.2).
            var id = string.IsNullOrEmpty(call.Id) ? "call_" + Guid.NewGuid().ToString("N")[..8] : call.Id;
            completed.Add(new CompletedToolCall(index, id, call.Name ?? string.Empty, ParseObject(raw), raw));
        }

        return completed;
    }

    /// <summary>
    /// Parses argument text into a JSON object. Some models double-encode (a JSON string holding the object); that is
    /// unwrapped, because an Ollama client has no way to recover it.
    /// </summary>
    public static JsonDocument? ParseObject(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return JsonDocument.Parse("{}"u8.ToArray());
        }

        try
        {
            var document = StrictJson.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            var inner = document.RootElement.ValueKind == JsonValueKind.String ? document.RootElement.GetString() : null;
            document.Dispose();
            return inner is not null && inner.TrimStart().StartsWith('{') ? ParseObject(inner) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void AddFragment(int index, JsonElement call)
    {
        while (_calls.Count <= index)
        {
            _calls.Add(null);
        }

        var builder = _calls[index] ??= new Builder();
        if (call.TryGetProperty("id"u8, out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 } given)
        {
            builder.Id ??= given;
        }

        if (!call.TryGetProperty("function"u8, out var function) || function.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        // The name comes whole in the first fragment; LM Studio before 0.3.16 sent an extra empty one later.
        if (builder.Name is null && function.TryGetProperty("name"u8, out var name) && name.ValueKind == JsonValueKind.String && name.GetString() is { Length: > 0 } n)
        {
            builder.Name = n;
        }

        if (function.TryGetProperty("arguments"u8, out var arguments))
        {
            switch (arguments.ValueKind)
            {
                case JsonValueKind.String:
                    builder.Arguments.Append(arguments.GetString());
                    break;
                case JsonValueKind.Object:
                    // Not OpenAI's shape, but some servers send the object itself; it is already whole.
                    builder.Arguments.Append(arguments.GetRawText());
                    break;
            }
        }
    }

    private sealed class Builder
    {
        public string? Id { get; set; }
        public string? Name { get; set; }
        public StringBuilder Arguments { get; } = new();
    }
}
