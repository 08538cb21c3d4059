using System.Text;
using System.Text.Json;

namespace CopilotProxy.Tests.Harness;

/// <summary>A tool call as Copilot would hand it to the tool runner.</summary>
/// <param name="Id">null when no fragment carried a truthy id (Copilot would then run a call with id undefined).</param>
/// <param name="Arguments">The parsed arguments; {} for empty or invalid JSON (current Copilot's fallback).</param>
/// <param name="ArgumentsValid">False when the concatenated arguments were not valid JSON.</param>
public sealed record CopilotToolCall(string? Id, string? Name, string RawArguments, JsonElement Arguments, bool ArgumentsValid);

public sealed record CopilotUsage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>What VS Code Copilot Chat would make of one streamed chat response.</summary>
public sealed class CopilotTurn
{
    /// <summary>Text shown to the user (delta.content and choice.text, one trailing \r stripped per piece).</summary>
    public required string Text { get; init; }

    /// <summary>Thinking from delta.cot_summary | reasoning_text | thinking. reasoning_content / reasoning do not count.</summary>
    public required string Thinking { get; init; }

    /// <summary>Tool calls Copilot would run: only those emitted at a finish_reason of "tool_calls" or "stop".</summary>
    public required IReadOnlyList<CopilotToolCall> ToolCalls { get; init; }

    /// <summary>
    /// The reason of the one completion Copilot keeps (the last one its SSEProcessor yields): a server finish_reason
    /// ("stop", "length", "tool_calls", ...), "error" for a mid-stream error, "DONE" when [DONE] came without a
    /// finish_reason, "Iteration Done" when the body ended without [DONE]; null when nothing was yielded.
    /// </summary>
    public string? FinishReason { get; init; }

    public bool SawDone { get; init; }

    /// <summary>
    /// JSON.stringify(error) of a mid-stream error that decided the turn, else "Invalid JSON for tool call: ..." when a
    /// call's arguments did not parse, else an HTTP error for a non-2xx response; null for a clean turn.
    /// </summary>
    public string? Error { get; init; }

    /// <summary>Every {"error":...} chunk Copilot treated as an error (choices absent or null), even if a later completion hid it.</summary>
    public required IReadOnlyList<string> StreamErrors { get; init; }

    public CopilotUsage? Usage { get; init; }

    /// <summary>Lines that failed JSON.parse after the 5-character slice (e.g. "event: ..." lines); Copilot logs and skips them.</summary>
    public required IReadOnlyList<string> Malformed { get; init; }

    /// <summary>Other things Copilot logs as errors or would choke on (chunks with neither choices nor error, bad usage, ...).</summary>
    public required IReadOnlyList<string> Anomalies { get; init; }

    /// <summary>Bytes after the last "\n" at end of body: Copilot never processes them as a line.</summary>
    public string? TrailingPartialLine { get; init; }

    /// <summary>Set when reading the body failed (connection dropped mid-stream): Copilot reports a network error.</summary>
    public string? TransportError { get; init; }

    public int? HttpStatus { get; init; }

    public int CommentLines { get; init; }
}

/// <summary>
/// Parses an SSE chat body the way VS Code Copilot Chat's SSEProcessor and its language-model consumer do
/// (docs/protocol.md §1.4), quirks included, so tests assert what Copilot would actually show and run.
/// </summary>
public sealed class CopilotSseParser
{
    private readonly StringBuilder _text = new();
    private readonly StringBuilder _thinking = new();
    private readonly List<string> _malformed = [];
    private readonly List<string> _anomalies = [];
    private readonly List<string> _streamErrors = [];
    private readonly List<CopilotToolCall> _emittedCalls = [];
    private readonly List<StreamingCall> _calls = [];
    private readonly List<string> _solutionOrder = [];
    private readonly Dictionary<string, Solution?> _solutions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _completedToolIndices = new(StringComparer.Ordinal);
    private readonly List<Completion> _completions = [];
    private string _remainder = "";
    private CopilotUsage? _usage;
    private string? _transportError;
    private int _comments;

    /// <summary>True once [DONE] was seen; Copilot stops reading there.</summary>
    public bool Done { get; private set; }

    public static CopilotTurn Parse(string body)
    {
        var parser = new CopilotSseParser();
        parser.Feed(body);
        return parser.Complete();
    }

    /// <summary>Reads until [DONE] (then stops, like Copilot) or end of body; a read failure becomes <see cref="CopilotTurn.TransportError"/>.</summary>
    public static async Task<CopilotTurn> ParseAsync(Stream body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var parser = new CopilotSseParser();
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[8192];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        try
        {
            while (!parser.Done)
            {
                var n = await body.ReadAsync(bytes, cancellationToken);
                if (n == 0)
                {
                    break;
                }

                var count = decoder.GetChars(bytes, 0, n, chars, 0, flush: false);
                parser.Feed(new string(chars, 0, count));
            }
        }
        catch (IOException ex)
        {
            parser._transportError = ex.Message;
        }

        return parser.Complete();
    }

    /// <summary>Non-2xx responses are not parsed as SSE (Copilot takes its HTTP error path); their body lands in Error.</summary>
    public static async Task<CopilotTurn> ParseAsync(HttpResponseMessage response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        var status = (int)response.StatusCode;
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return new CopilotTurn
            {
                Text = "",
                Thinking = "",
                ToolCalls = [],
                StreamErrors = [],
                Malformed = [],
                Anomalies = [],
                Error = $"HTTP {status}: {text}",
                HttpStatus = status,
            };
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var turn = await ParseAsync(stream, cancellationToken);
        return new CopilotTurn
        {
            Text = turn.Text,
            Thinking = turn.Thinking,
            ToolCalls = turn.ToolCalls,
            FinishReason = turn.FinishReason,
            SawDone = turn.SawDone,
            Error = turn.Error,
            StreamErrors = turn.StreamErrors,
            Usage = turn.Usage,
            Malformed = turn.Malformed,
            Anomalies = turn.Anomalies,
            TrailingPartialLine = turn.TrailingPartialLine,
            TransportError = turn.TransportError,
            HttpStatus = status,
            CommentLines = turn.CommentLines,
        };
    }

    /// <summary>Feeds a piece of the body (any split). Ignored after [DONE].</summary>
    public void Feed(string chunk)
    {
        if (Done)
        {
            return;
        }

        var lines = (_remainder + chunk).Split('\n');
        _remainder = lines[^1];
        foreach (var line in lines.AsSpan(0, lines.Length - 1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            ProcessLine(line);
            if (Done)
            {
                return;
            }
        }
    }

    public CopilotTurn Complete()
    {
        if (!Done)
        {
            foreach (var key in _solutionOrder)
            {
                if (_solutions[key] is not null)
                {
                    _completions.Add(new Completion("Iteration Done", null));
                }
            }
        }

        var final = _completions.Count > 0 ? _completions[^1] : null;
        var error = final?.Reason == "error" ? final.Error : null;
        error ??= _emittedCalls.FirstOrDefault(c => !c.ArgumentsValid) is { } bad ? "Invalid JSON for tool call: " + bad.RawArguments : null;
        return new CopilotTurn
        {
            Text = _text.ToString(),
            Thinking = _thinking.ToString(),
            ToolCalls = [.. _emittedCalls],
            FinishReason = final?.Reason,
            SawDone = Done,
            Error = error,
            StreamErrors = [.. _streamErrors],
            Usage = _usage,
            Malformed = [.. _malformed],
            Anomalies = [.. _anomalies],
            TrailingPartialLine = !Done && _remainder.Length > 0 ? _remainder : null,
            TransportError = _transportError,
            CommentLines = _comments,
        };
    }

    private void ProcessLine(string line)
    {
        if (line.StartsWith(':'))
        {
            _comments++;
            return;
        }

        // Copilot slices 'data:'.length characters off every line without checking the prefix.
        var payload = JsTrim(line.Length > 5 ? line[5..] : "");
        if (payload == "[DONE]")
        {
            foreach (var key in _solutionOrder)
            {
                if (_solutions[key] is not null)
                {
                    _completions.Add(new Completion(_completedToolIndices.Contains(key) ? "tool_calls" : "DONE", null));
                }
            }

            Done = true;
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload);
        }
        catch (JsonException)
        {
            _malformed.Add(line);
            return;
        }

        using (document)
        {
            ProcessJson(document.RootElement, line);
        }
    }

    private void ProcessJson(JsonElement json, string line)
    {
        if (json.ValueKind == JsonValueKind.Null)
        {
            _anomalies.Add("'data: null' makes Copilot throw reading .usage: " + line);
            return;
        }

        if (json.ValueKind != JsonValueKind.Object)
        {
            _anomalies.Add("non-object chunk, no choices or error: " + line);
            return;
        }

        if (Prop(json, "usage") is { } usage && Truthy(usage))
        {
            if (IsApiUsage(usage))
            {
                _usage = new CopilotUsage(usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32(),
                    usage.GetProperty("total_tokens").GetInt32());
            }
            else
            {
                // processSSE takes anything that is not an APIUsage for the completion itself.
                _anomalies.Add("usage without numeric prompt/completion/total_tokens replaces the completion: " + line);
                _completions.Add(new Completion(null, null));
            }
        }

        var choices = Prop(json, "choices");
        if (choices is not { } choicesValue || !Truthy(choicesValue))
        {
            if (Prop(json, "copilot_references") is not null || Prop(json, "copilot_confirmation") is not null)
            {
                return;
            }

            if (Prop(json, "error") is { } error)
            {
                var text = JsJson.Write(error);
                _streamErrors.Add(text);
                _completions.Add(new Completion("error", text));
            }
            else
            {
                _anomalies.Add("chunk with no choices or error: " + line);
            }

            return;
        }

        if (choicesValue.ValueKind != JsonValueKind.Array)
        {
            _anomalies.Add("choices is not an array: " + line);
            return;
        }

        foreach (var choice in choicesValue.EnumerateArray())
        {
            ProcessChoice(choice, line);
        }
    }

    private void ProcessChoice(JsonElement choice, string line)
    {
        if (choice.ValueKind != JsonValueKind.Object)
        {
            _anomalies.Add("choice is not an object: " + line);
            return;
        }

        var key = Prop(choice, "index") is { ValueKind: JsonValueKind.Number } index ? index.GetRawText() : "undefined";
        var thinking = ThinkingText(choice);
        if (!_solutions.TryGetValue(key, out var solution))
        {
            solution = new Solution();
            _solutions[key] = solution;
            _solutionOrder.Add(key);
        }

        if (solution is null)
        {
            // Finished choice: only thinking still reaches the consumer.
            AppendThinking(thinking);
            return;
        }

        var delta = Prop(choice, "delta") is { ValueKind: JsonValueKind.Object } d ? d : (JsonElement?)null;
        var finish = Prop(choice, "finish_reason");
        var handled = true;
        if (delta is { } dt && Prop(dt, "tool_calls") is { } toolCalls && Truthy(toolCalls))
        {
            if (toolCalls.ValueKind != JsonValueKind.Array)
            {
                _anomalies.Add("tool_calls is not an array; Copilot throws: " + line);
                return;
            }

            if (_calls.Count == 0 && solution.HasText && toolCalls.GetArrayLength() > 0
                && Prop(toolCalls[0], "function") is { } fn && StringProp(fn, "name") is { Length: > 0 })
            {
                // Copilot flushes its linkifier with a space before the first tool call that follows text.
                Append(solution, " ");
                AppendThinking(thinking);
            }

            foreach (var fragment in toolCalls.EnumerateArray())
            {
                UpdateCalls(fragment);
            }
        }
        else if (delta is { } dr && StringProp(dr, "role") == "function")
        {
            // Copilot reads function-role content as references, never as text.
            if (StringProp(dr, "content") is { Length: > 0 } content && IsJsonArray(content))
            {
                AppendThinking(thinking);
            }
        }
        else if (delta is { } df && Prop(df, "function_call") is { } fc && Truthy(fc)
            && (StringProp(fc, "name") is { Length: > 0 } || StringProp(fc, "arguments") is { Length: > 0 }))
        {
            _anomalies.Add("deprecated delta.function_call is not modelled by this parser: " + line);
        }
        else
        {
            handled = false;
        }

        var finishText = finish is { ValueKind: JsonValueKind.String } f ? f.GetString() : null;
        if ((finishText == "tool_calls" || finishText == "stop") && _calls.Count > 0)
        {
            handled = true;
            _completedToolIndices.Add(key);
            foreach (var call in _calls)
            {
                _emittedCalls.Add(call.ToCopilot());
            }

            AppendThinking(thinking);
        }

        if (!handled)
        {
            if (StringProp(choice, "text") is { Length: > 0 } legacy)
            {
                Append(solution, RemoveTrailingCr(legacy));
            }

            if (delta is { } dc && StringProp(dc, "content") is { Length: > 0 } content)
            {
                Append(solution, RemoveTrailingCr(content));
            }

            AppendThinking(thinking);
        }

        if (finish is { } fr && Truthy(fr))
        {
            _completions.Add(new Completion(fr.ValueKind == JsonValueKind.String ? fr.GetString() : fr.GetRawText(), null));
            _solutions[key] = null;
        }
    }

    private void UpdateCalls(JsonElement fragment)
    {
        if (fragment.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        var id = StringProp(fragment, "id") is { Length: > 0 } s ? s : null;
        var current = _calls.Count > 0 ? _calls[^1] : null;

        // Grouping is by id against the LAST call only; index is ignored, an id-less fragment extends the last call.
        if (current is null || (id is not null && current.Id != id))
        {
            current = new StreamingCall();
            _calls.Add(current);
        }

        if (id is not null)
        {
            current.Id = id;
        }

        if (Prop(fragment, "function") is { ValueKind: JsonValueKind.Object } function)
        {
            if (StringProp(function, "name") is { Length: > 0 } name)
            {
                current.Name = name;
            }

            if (StringProp(function, "arguments") is { Length: > 0 } arguments)
            {
                current.Arguments.Append(arguments);
            }
        }
    }

    private void Append(Solution solution, string text)
    {
        solution.HasText = true;
        _text.Append(text);
    }

    private void AppendThinking(string? thinking)
    {
        if (!string.IsNullOrEmpty(thinking))
        {
            _thinking.Append(thinking);
        }
    }

    private static string? ThinkingText(JsonElement choice)
    {
        var source = Prop(choice, "message") is { } m && Truthy(m) ? m : Prop(choice, "delta");
        if (source is not { ValueKind: JsonValueKind.Object } s)
        {
            return null;
        }

        foreach (var field in (string[])["cot_summary", "reasoning_text", "thinking"])
        {
            if (StringProp(s, field) is { Length: > 0 } text)
            {
                return text;
            }
        }

        return null;
    }

    private static bool IsJsonArray(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Array;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string RemoveTrailingCr(string text) => text.EndsWith('\r') ? text[..^1] : text;

    private static bool IsApiUsage(JsonElement usage) =>
        usage.ValueKind == JsonValueKind.Object
        && Prop(usage, "prompt_tokens") is { ValueKind: JsonValueKind.Number }
        && Prop(usage, "completion_tokens") is { ValueKind: JsonValueKind.Number }
        && Prop(usage, "total_tokens") is { ValueKind: JsonValueKind.Number };

    private static JsonElement? Prop(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : null;

    private static string? StringProp(JsonElement element, string name) =>
        Prop(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    /// <summary>JavaScript truthiness of a JSON value.</summary>
    private static bool Truthy(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.False or JsonValueKind.Undefined => false,
        JsonValueKind.String => value.GetString()!.Length > 0,
        JsonValueKind.Number => value.GetDouble() != 0,
        _ => true,
    };

    /// <summary>String.prototype.trim: ECMAScript whitespace and line terminators, including the BOM, excluding U+0085.</summary>
    private static string JsTrim(string s)
    {
        static bool IsJsSpace(char c) => c != '\u0085' && (char.IsWhiteSpace(c) || c == '\uFEFF');
        var start = 0;
        var end = s.Length;
        while (start < end && IsJsSpace(s[start]))
        {
            start++;
        }

        while (end > start && IsJsSpace(s[end - 1]))
        {
            end--;
        }

        return s[start..end];
    }

    private sealed record Completion(string? Reason, string? Error);

    private sealed class Solution
    {
        public bool HasText { get; set; }
    }

    private sealed class StreamingCall
    {
        public string? Id { get; set; }

        public string? Name { get; set; }

        public StringBuilder Arguments { get; } = new();

        public CopilotToolCall ToCopilot()
        {
            var raw = Arguments.ToString();
            try
            {
                using var document = JsonDocument.Parse(raw.Length == 0 ? "{}" : raw);
                return new CopilotToolCall(Id, Name, raw, document.RootElement.Clone(), true);
            }
            catch (JsonException)
            {
                using var empty = JsonDocument.Parse("{}");
                return new CopilotToolCall(Id, Name, raw, empty.RootElement.Clone(), false);
            }
        }
    }
}
