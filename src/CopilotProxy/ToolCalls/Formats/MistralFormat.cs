using System.Security.Cryptography;

namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// Mistral: v3 (Mistral 7B v0.3, Nemo) <c>[TOOL_CALLS][{"name": …, "arguments": {…}}]</c>; v11 and later (Mistral Small
/// 3.2, Devstral, Magistral) <c>[TOOL_CALLS]NAME[ARGS]{…}</c>, optionally <c>[TOOL_CALLS]NAME[CALL_ID]ID[ARGS]{…}</c>.
/// </summary>
/// <remarks>
/// Mistral's templates refuse a conversation whose tool call ids are not nine letters or digits, so the calls get ids of
/// that shape (the model's own <c>[CALL_ID]</c> when it is one) and the next request renders.
/// </remarks>
internal sealed class MistralFormat : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "[TOOL_CALLS]"u8;
    private static ReadOnlySpan<byte> CallId => "[CALL_ID]"u8;
    private static ReadOnlySpan<byte> Args => "[ARGS]"u8;
    private const int MaxName = 128;

    public string Name => "mistral";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var at = JsonText.SkipWhitespace(text, Open.Length);
        if (at == text.Length)
        {
            return FormatParse.Open(final);
        }

        if (text[at] is (byte)'[' or (byte)'{')
        {
            var v3 = JsonCallSequence.Parse(text, at, final, calls, separated: false, NewId);
            return v3.Status == ParseStatus.NotMine ? TagText.Malformed() : v3;
        }

        var bracket = text[at..].IndexOf((byte)'[');
        var name = bracket < 0 ? text[at..] : text.Slice(at, bracket);
        foreach (var b in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'_' or (byte)'-' or (byte)'.'))
            {
                // "[TOOL_CALLS] in prose" names no function.
                return FormatParse.NotMine;
            }
        }

        if (bracket < 0)
        {
            return name.Length > MaxName ? TagText.Malformed() : FormatParse.Open(final);
        }

        at += bracket;
        string? id = null;
        var callId = JsonText.Matches(text, at, CallId);
        if (callId == 0)
        {
            return FormatParse.Open(final);
        }

        if (callId == 1)
        {
            var args = TagText.Find(text, at, Args);
            if (args < 0)
            {
                return FormatParse.Open(final);
            }

            id = TagText.Utf8(text[(at + CallId.Length)..args]);
            at = args;
        }

        switch (JsonText.Matches(text, at, Args))
        {
            case -1:
                return TagText.Malformed();
            case 0:
                return FormatParse.Open(final);
        }

        at = JsonText.SkipWhitespace(text, at + Args.Length);
        var length = JsonText.ValueLength(text[at..], out var invalid);
        var toolName = TagText.Utf8(name);
        if (invalid)
        {
            return TagText.Malformed(toolName);
        }

        if (length < 0)
        {
            return FormatParse.Open(final);
        }

        var useId = id is { Length: 9 } && id.All(char.IsAsciiLetterOrDigit) ? id : NewId();
        return FormatParse.DoneOr(calls.AddJson(toolName, text.Slice(at, length), useId), at + length);
    }

    /// <summary>Nine random letters and digits, the id shape Mistral's templates require.</summary>
    public static string NewId() => RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 9);
}
