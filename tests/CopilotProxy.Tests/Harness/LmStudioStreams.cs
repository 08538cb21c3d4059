using System.Collections;
using System.Security.Cryptography;
using System.Text;

namespace CopilotProxy.Tests.Harness;

/// <summary>
/// One tool call as the model produces it. <see cref="Id"/> null = a fresh numeric-looking id like LM Studio's
/// ("814890118"); "" reproduces LM Studio's empty-id quirk. <see cref="PieceLength"/> sets how many characters of
/// the arguments travel in each fragment after the first.
/// </summary>
public sealed record FakeToolCall(string Name, string Arguments)
{
    public string? Id { get; init; }

    public int PieceLength { get; init; } = 4;
}

public sealed record ToolCallStreamOptions
{
    /// <summary>Send id:"" on each call's first fragment (LM Studio bug #830).</summary>
    public bool EmptyIds { get; init; }

    /// <summary>No finish chunk at all: the stream goes straight to [DONE].</summary>
    public bool OmitFinishReason { get; init; }

    /// <summary>Text sent in the same delta as the first call's first fragment.</summary>
    public string? TextInSameDelta { get; init; }

    /// <summary>Parallel calls' fragments alternate (call 1 head, call 2 head, call 1 piece, call 2 piece...). LM Studio sends them one after another.</summary>
    public bool Interleave { get; init; }

    /// <summary>Repeat each call's id on every fragment, as some servers do.</summary>
    public bool IdOnEveryFragment { get; init; }
}

/// <summary>
/// A chat-completion chunk stream with LM Studio 0.4.x's shape: the same chatcmpl id and created on every chunk,
/// system_fingerprint = model, role "assistant" in every delta, logprobs null, a finish chunk with delta {},
/// then [DONE]. Enumerating yields the data payloads (without the "data: " prefix), ready for <see cref="FakeResponse.Sse"/>.
/// Methods append and return this, so streams compose.
/// </summary>
public sealed class LmStudioSse : IEnumerable<string>
{
    private readonly List<string> _payloads = [];
    private bool _done = true;

    public LmStudioSse(string model, string? id = null, long? created = null)
    {
        Model = model;
        Id = id ?? "chatcmpl-" + RandomAlnum(26);
        Created = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    public string Model { get; }

    public string Id { get; }

    public long Created { get; }

    public IReadOnlyList<string> Payloads => [.. this];

    public LmStudioSse Content(params string[] tokens)
    {
        foreach (var token in tokens)
        {
            Delta("\"content\":" + JsJson.Quote(token));
        }

        return this;
    }

    /// <summary>Reasoning tokens in <paramref name="field"/> ("reasoning_content" for R1-style models, "reasoning" for gpt-oss).</summary>
    public LmStudioSse Reasoning(string field, params string[] tokens)
    {
        foreach (var token in tokens)
        {
            Delta(JsJson.Quote(field) + ":" + JsJson.Quote(token));
        }

        return this;
    }

    /// <summary>Streams the calls' fragments (no finish chunk; add <see cref="Finish"/> yourself).</summary>
    public LmStudioSse ToolCalls(ToolCallStreamOptions? options, params FakeToolCall[] calls)
    {
        options ??= new ToolCallStreamOptions();
        var perCall = new List<List<string>>();
        for (var i = 0; i < calls.Length; i++)
        {
            var call = calls[i];
            var id = options.EmptyIds ? "" : call.Id ?? NumericId();
            var fragments = new List<string>
            {
                "{\"index\":" + JsJson.Number(i) + ",\"id\":" + JsJson.Quote(id) + ",\"type\":\"function\",\"function\":{\"name\":"
                    + JsJson.Quote(call.Name) + ",\"arguments\":\"\"}}",
            };
            foreach (var piece in Split(call.Arguments, Math.Max(1, call.PieceLength)))
            {
                var idPart = options.IdOnEveryFragment ? ",\"id\":" + JsJson.Quote(id) : "";
                fragments.Add("{\"index\":" + JsJson.Number(i) + idPart + ",\"function\":{\"arguments\":" + JsJson.Quote(piece) + "}}");
            }

            perCall.Add(fragments);
        }

        var ordered = new List<string>();
        if (options.Interleave)
        {
            for (var round = 0; perCall.Any(f => round < f.Count); round++)
            {
                ordered.AddRange(perCall.Where(f => round < f.Count).Select(f => f[round]));
            }
        }
        else
        {
            ordered.AddRange(perCall.SelectMany(f => f));
        }

        for (var i = 0; i < ordered.Count; i++)
        {
            var text = i == 0 && options.TextInSameDelta is { } t ? "\"content\":" + JsJson.Quote(t) + "," : "";
            Delta(text + "\"tool_calls\":[" + ordered[i] + "]");
        }

        return this;
    }

    public LmStudioSse ToolCalls(params FakeToolCall[] calls) => ToolCalls(null, calls);

    /// <summary>The closing chunk: delta {} and this finish_reason.</summary>
    public LmStudioSse Finish(string finishReason = "stop")
    {
        _payloads.Add(Envelope("[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":" + JsJson.Quote(finishReason) + "}]"));
        return this;
    }

    /// <summary>A usage chunk with choices: [] (what stream_options.include_usage adds).</summary>
    public LmStudioSse Usage(int promptTokens, int completionTokens)
    {
        _payloads.Add(Envelope("[]", UsageJson(promptTokens, completionTokens)));
        return this;
    }

    /// <summary>A chunk whose delta holds these raw JSON members after role (e.g. "\"content\":\"hi\"").</summary>
    public LmStudioSse Delta(string deltaMembers, string? finishReason = null)
    {
        var members = deltaMembers.Length == 0 ? "" : "," + deltaMembers;
        _payloads.Add(Envelope("[{\"index\":0,\"delta\":{\"role\":\"assistant\"" + members + "},\"logprobs\":null,\"finish_reason\":"
            + JsJson.Quote(finishReason) + "}]"));
        return this;
    }

    /// <summary>Any payload as is, e.g. a mid-stream {"error":...}.</summary>
    public LmStudioSse Raw(string payload)
    {
        _payloads.Add(payload);
        return this;
    }

    /// <summary>Leave out the final [DONE].</summary>
    public LmStudioSse WithoutDone()
    {
        _done = false;
        return this;
    }

    public IEnumerator<string> GetEnumerator()
    {
        foreach (var payload in _payloads)
        {
            yield return payload;
        }

        if (_done)
        {
            yield return "[DONE]";
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal static string UsageJson(int promptTokens, int completionTokens) =>
        "{\"prompt_tokens\":" + JsJson.Number(promptTokens) + ",\"completion_tokens\":" + JsJson.Number(completionTokens)
        + ",\"total_tokens\":" + JsJson.Number(promptTokens + completionTokens) + "}";

    internal static string NumericId() => JsJson.Number(RandomNumberGenerator.GetInt32(100_000_000, 999_999_999));

    internal static string RandomAlnum(int length)
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        var sb = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            sb.Append(Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)]);
        }

        return sb.ToString();
    }

    private string Envelope(string choices, string? usage = null) =>
        "{\"id\":" + JsJson.Quote(Id) + ",\"object\":\"chat.completion.chunk\",\"created\":" + JsJson.Number(Created)
        + ",\"model\":" + JsJson.Quote(Model) + ",\"system_fingerprint\":" + JsJson.Quote(Model) + ",\"choices\":" + choices
        + (usage is null ? "" : ",\"usage\":" + usage) + "}";

    private static IEnumerable<string> Split(string text, int length)
    {
        // Split on text elements' char boundaries but never inside a surrogate pair.
        var start = 0;
        while (start < text.Length)
        {
            var end = Math.Min(text.Length, start + length);
            if (end < text.Length && char.IsHighSurrogate(text[end - 1]))
            {
                end++;
            }

            yield return text[start..end];
            start = end;
        }
    }
}

/// <summary>Ready-made LM Studio 0.4.x streams. Each returns a <see cref="LmStudioSse"/>, so more chunks can be appended.</summary>
public static class LmStudioStreams
{
    public static LmStudioSse Text(string model, params string[] tokens) => new LmStudioSse(model).Content(tokens).Finish("stop");

    public static LmStudioSse Reasoning(string model, string[] reasoningTokens, string[] contentTokens, string field = "reasoning_content") =>
        new LmStudioSse(model).Reasoning(field, reasoningTokens).Content(contentTokens).Finish("stop");

    public static LmStudioSse ToolCalls(string model, params FakeToolCall[] calls) => ToolCalls(model, new ToolCallStreamOptions(), calls);

    public static LmStudioSse ToolCalls(string model, ToolCallStreamOptions options, params FakeToolCall[] calls)
    {
        ArgumentNullException.ThrowIfNull(options);
        var stream = new LmStudioSse(model).ToolCalls(options, calls);
        return options.OmitFinishReason ? stream : stream.Finish("tool_calls");
    }

    /// <summary>A standalone usage chunk (choices: []); prefer <see cref="LmStudioSse.Usage"/> to keep the stream's id.</summary>
    public static string Usage(string model, int promptTokens, int completionTokens) =>
        new LmStudioSse(model).Usage(promptTokens, completionTokens).WithoutDone().Payloads[0];

    /// <summary>A mid-stream error payload as an OpenAI-style server writes it.</summary>
    public static string Error(string message, string type = "server_error") =>
        "{\"error\":{\"message\":" + JsJson.Quote(message) + ",\"type\":" + JsJson.Quote(type) + "}}";
}

/// <summary>
/// Splits text into the pieces a model's BPE tokenizer streams, so the proxy sees the deltas LM Studio would send: a word
/// with its leading space, punctuation in runs of up to two (<c>{"</c>, <c>":</c>), each newline alone, each non-ASCII
/// character whole (llama.cpp never sends part of a UTF-8 sequence), and Qwen's special tokens (<c>&lt;tool_call&gt;</c>,
/// <c>&lt;/tool_call&gt;</c>, <c>&lt;think&gt;</c>, <c>&lt;/think&gt;</c>) as one token each.
/// </summary>
public static class LmStudioTokens
{
    private static readonly string[] Special = ["<tool_call>", "</tool_call>", "<think>", "</think>"];

    public static string[] Split(string text) => Split(text, specialTokens: true);

    /// <param name="specialTokens">False splits the tags like ordinary text (<c>&lt;</c>, <c>tool</c>, <c>_call</c>, <c>&gt;</c>), as a model that drifted from its template writes them.</param>
    public static string[] Split(string text, bool specialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var special = specialTokens ? Array.Find(Special, s => text.AsSpan(i).StartsWith(s, StringComparison.Ordinal)) : null;
            int end;
            if (special is not null)
            {
                end = i + special.Length;
            }
            else if (text[i] is '\n' or '\r')
            {
                end = i + 1;
            }
            else if (text[i] > 127)
            {
                end = i + (char.IsHighSurrogate(text[i]) && i + 1 < text.Length ? 2 : 1);
            }
            else
            {
                end = i + (text[i] == ' ' && i + 1 < text.Length && char.IsAsciiLetterOrDigit(text[i + 1]) ? 1 : 0);
                if (end < text.Length && char.IsAsciiLetter(text[end]))
                {
                    // Long words split into pieces of up to six letters, as BPE splits rare words.
                    var start = end;
                    while (end < text.Length && end - start < 6 && char.IsAsciiLetter(text[end]))
                    {
                        end++;
                    }
                }
                else if (end < text.Length && char.IsAsciiDigit(text[end]))
                {
                    var start = end;
                    while (end < text.Length && end - start < 3 && char.IsAsciiDigit(text[end]))
                    {
                        end++;
                    }
                }
                else
                {
                    end = Math.Min(Math.Max(end, i + 1) + (i + 1 < text.Length && IsPunctuation(text[i]) && IsPunctuation(text[i + 1]) ? 1 : 0), text.Length);
                }
            }

            tokens.Add(text[i..end]);
            i = end;
        }

        return [.. tokens];
    }

    private static bool IsPunctuation(char c) => c < 128 && !char.IsAsciiLetterOrDigit(c) && c is not (' ' or '\n' or '\r');
}
