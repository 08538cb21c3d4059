namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// DeepSeek V3 and R1: <c>&lt;｜tool▁calls▁begin｜&gt;&lt;｜tool▁call▁begin｜&gt;function&lt;｜tool▁sep｜&gt;NAME\n```json\n{…}\n```&lt;｜tool▁call▁end｜&gt;…&lt;｜tool▁calls▁end｜&gt;</c>;
/// V3.1 and later: <c>…&lt;｜tool▁call▁begin｜&gt;NAME&lt;｜tool▁sep｜&gt;{…}&lt;｜tool▁call▁end｜&gt;…</c>, fenced or not. The bars are
/// full-width (U+FF5C) and the spaces U+2581, as in the tokenizer's special tokens.
/// </summary>
internal sealed class DeepSeekFormat : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<｜tool▁calls▁begin｜>"u8;
    private static ReadOnlySpan<byte> Close => "<｜tool▁calls▁end｜>"u8;
    private static ReadOnlySpan<byte> Call => "<｜tool▁call▁begin｜>"u8;
    private static ReadOnlySpan<byte> CallEnd => "<｜tool▁call▁end｜>"u8;
    private static ReadOnlySpan<byte> Separator => "<｜tool▁sep｜>"u8;

    public string Name => "deepseek";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls) =>
        TagText.ReadSection(text, final, calls, Open, Close, Call, CallEnd, ReadCall, jsonBodies: true);

    private static FormatParse? ReadCall(ReadOnlySpan<byte> call, ParsedCalls calls)
    {
        var sep = call.IndexOf(Separator);
        if (sep < 0)
        {
            return TagText.Malformed();
        }

        var before = call[..sep].Trim(" \t\r\n"u8);
        var after = call[(sep + Separator.Length)..];
        // V3 and R1: the type, then the name on its own line, then the arguments in a json fence.
        var typed = before.SequenceEqual("function"u8) && after.IndexOf((byte)'\n') >= 0;
        var newline = typed ? after.IndexOf((byte)'\n') : 0;
        var toolName = TagText.Utf8((typed ? after[..newline] : before).Trim(" \t\r\n"u8));
        return calls.AddJson(toolName, Unfence(typed ? after[(newline + 1)..] : after)) is { } refused ? FormatParse.Refuse(refused) : null;
    }

    /// <summary>The JSON inside <c>```json … ```</c>, or the text itself when it has no fence.</summary>
    private static ReadOnlySpan<byte> Unfence(ReadOnlySpan<byte> arguments)
    {
        arguments = arguments.Trim(" \t\r\n"u8);
        if (!arguments.StartsWith("```"u8))
        {
            return arguments;
        }

        var newline = arguments.IndexOf((byte)'\n');
        arguments = newline < 0 ? arguments[3..] : arguments[(newline + 1)..];
        arguments = arguments.TrimEnd(" \t\r\n"u8);
        return arguments.EndsWith("```"u8) ? arguments[..^3] : arguments;
    }
}
