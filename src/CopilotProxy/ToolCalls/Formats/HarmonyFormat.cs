namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// gpt-oss (harmony) calls that leak into the content: <c>&lt;|start|&gt;assistant&lt;|channel|&gt;commentary to=functions.NAME &lt;|constrain|&gt;json&lt;|message|&gt;{…}&lt;|call|&gt;</c>,
/// the recipient in the channel header or in the role header. The analysis and final channels are reasoning and answer,
/// not calls: a header without <c>to=functions.</c> is left as text.
/// </summary>
/// <remarks>
/// <c>&lt;|call|&gt;</c> is a stop token LM Studio may leave out; the end of the answer ends the arguments then. With the
/// recipient in the role header, the first message's <c>&lt;|start|&gt;assistant</c> is in the prompt, so the answer itself
/// starts <c> to=functions.NAME&lt;|channel|&gt;commentary json&lt;|message|&gt;</c> (llama.cpp's gpt-oss parser and tests
/// take this form, on the analysis channel too): <c>to=functions.</c> opens a call at the start of the answer only.
/// </remarks>
internal sealed class HarmonyFormat : IToolCallFormat
{
    private static ReadOnlySpan<byte> Message => "<|message|>"u8;
    private static ReadOnlySpan<byte> Recipient => "to=functions."u8;
    private static ReadOnlySpan<byte> CallToken => "<|call|>"u8;
    private static ReadOnlySpan<byte> EndToken => "<|end|>"u8;

    // A header is a role, a channel and a recipient; a longer one is not a header.
    private const int MaxHeader = 256;

    public string Name => "harmony";
    public IReadOnlyList<byte[]> Markers { get; } = ["<|channel|>"u8.ToArray(), "<|start|>"u8.ToArray()];
    public bool AtStartOnly => false;
    public IReadOnlyList<byte[]> StartMarkers { get; } = ["to=functions."u8.ToArray()];

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        var message = text.IndexOf(Message);
        if (message < 0)
        {
            return text.Length > MaxHeader || final ? FormatParse.NotMine : FormatParse.NeedMore;
        }

        var header = text[..message];
        var recipient = header.IndexOf(Recipient);
        if (recipient < 0)
        {
            return FormatParse.NotMine;
        }

        var name = header[(recipient + Recipient.Length)..];
        var nameEnd = name.IndexOfAny(" \t\r\n<"u8);
        var toolName = TagText.Utf8(nameEnd < 0 ? name : name[..nameEnd]);
        var body = message + Message.Length;
        var end = TagText.Find(text, body, CallToken);
        var endLength = CallToken.Length;
        if (end < 0 && TagText.Find(text, body, EndToken) is var endToken and >= 0)
        {
            end = endToken;
            endLength = EndToken.Length;
        }

        if (end < 0)
        {
            if (!final)
            {
                return FormatParse.NeedMore;
            }

            end = text.Length;
            endLength = 0;
        }

        return FormatParse.DoneOr(calls.AddJson(toolName, text[body..end]), end + endLength);
    }
}
