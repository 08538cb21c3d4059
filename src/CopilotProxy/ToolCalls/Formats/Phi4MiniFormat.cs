namespace CopilotProxy.ToolCalls.Formats;

/// <summary>Phi-4-mini (and FireFunction v2): <c>functools[{"name": …, "arguments": {…}}, …]</c> as the whole answer.</summary>
internal sealed class Phi4MiniFormat : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "functools["u8;

    public string Name => "phi4-mini";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];

    // 'f' starts too many words to watch for it mid-text; the model writes the list as its whole answer.
    public bool AtStartOnly => true;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var parse = JsonCallSequence.Parse(text, Open.Length - 1, final, calls, separated: false);
        return parse.Status == ParseStatus.NotMine ? TagText.Malformed() : parse;
    }
}
