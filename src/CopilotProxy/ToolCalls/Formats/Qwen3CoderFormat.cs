namespace CopilotProxy.ToolCalls.Formats;

/// <summary>Qwen3-Coder: <c>&lt;tool_call&gt;&lt;function=NAME&gt;&lt;parameter=K&gt;V&lt;/parameter&gt;…&lt;/function&gt;&lt;/tool_call&gt;</c>.</summary>
internal sealed class Qwen3CoderFormat : IToolCallFormat
{
    public string Name => "qwen3-coder";
    public IReadOnlyList<byte[]> Markers { get; } = [HermesFormat.Open.ToArray()];
    public bool AtStartOnly => false;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls) =>
        FunctionTagCalls.Parse(text, HermesFormat.Open, HermesFormat.Close, final, calls);
}
