namespace CopilotProxy.ToolCalls.Formats;

/// <summary>Llama 3.1 and 3.3: <c>&lt;|python_tag|&gt;{"name": …, "parameters": {…}}</c>, several calls separated by <c>;</c>.</summary>
internal sealed class Llama3Format : IToolCallFormat
{
    private static ReadOnlySpan<byte> Open => "<|python_tag|>"u8;

    public string Name => "llama3";
    public IReadOnlyList<byte[]> Markers { get; } = [Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var parse = JsonCallSequence.Parse(text, Open.Length, final, calls, separated: true);
        // Code after the tag (Llama's built-in python tool) is not a function call.
        return parse.Status == ParseStatus.NotMine ? TagText.Malformed() : parse;
    }
}
