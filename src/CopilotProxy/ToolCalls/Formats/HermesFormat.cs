namespace CopilotProxy.ToolCalls.Formats;

/// <summary>Hermes / Qwen 2.5 / Qwen3 / Granite 4: <c>&lt;tool_call&gt;{"name": …, "arguments": {…}}&lt;/tool_call&gt;</c>, one block per call.</summary>
internal sealed class HermesFormat : IToolCallFormat
{
    public static ReadOnlySpan<byte> Open => "<tool_call>"u8;
    public static ReadOnlySpan<byte> Close => "</tool_call>"u8;

    public string Name => "hermes";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var at = JsonText.SkipWhitespace(text, Open.Length);
        if (at == text.Length)
        {
            return FormatParse.Open(final);
        }

        if (text[at] is not ((byte)'{' or (byte)'['))
        {
            return FormatParse.NotMine;
        }

        var end = TagText.Find(text, at, Close);
        if (end < 0)
        {
            return FormatParse.Open(final);
        }

        var refusal = calls.AddCallObjects(text[at..end]);
        // Inside the tag anything but a call is a broken call, not prose.
        return refusal is { Reason: ToolCallRepairRejection.NotAToolCall } ? TagText.Malformed() : FormatParse.DoneOr(refusal, end + Close.Length);
    }
}
