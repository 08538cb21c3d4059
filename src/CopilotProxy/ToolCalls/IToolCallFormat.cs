namespace CopilotProxy.ToolCalls;

/// <summary>
/// One way a model writes tool calls as text. The streaming scanner (<see cref="ToolCallRepair"/>) watches for the
/// format's start markers; from a marker on it holds the text and asks <see cref="Parse"/> whether the calls are complete.
/// </summary>
public interface IToolCallFormat
{
    /// <summary>The name config.yaml's <c>model_info.tool_call_format</c>, the request log and the metrics use.</summary>
    string Name { get; }

    /// <summary>The texts a block of this format starts with (UTF-8).</summary>
    IReadOnlyList<byte[]> Markers { get; }

    /// <summary>True when a marker only counts at the start of the content (after whitespace or a code fence), never mid-text.</summary>
    bool AtStartOnly { get; }

    /// <summary>
    /// More texts a block of this format starts with, which count only at the start of the content whatever
    /// <see cref="AtStartOnly"/> says: a marker that is an ordinary word mid-text would hold prose for nothing.
    /// </summary>
    IReadOnlyList<byte[]> StartMarkers => [];

    /// <summary>
    /// Reads the calls in <paramref name="text"/>, which starts with one of <see cref="Markers"/> and holds everything held
    /// so far. Adds the calls to <paramref name="calls"/> only when it returns <see cref="ParseStatus.Done"/>.
    /// </summary>
    /// <param name="final">No more text will come: the answer ended without the token limit cutting it off.</param>
    FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls);
}

/// <summary>Where a format's parse stands.</summary>
public enum ParseStatus
{
    /// <summary>The text so far may still become calls of this format.</summary>
    NeedMore,
    /// <summary>The text is not this format (another one sharing the marker may take it).</summary>
    NotMine,
    /// <summary>The text is this format but cannot be repaired (see <see cref="FormatParse.Refusal"/>).</summary>
    Refused,
    /// <summary>The calls are complete; <see cref="FormatParse.Length"/> bytes of the text were the block.</summary>
    Done,
}

/// <summary>A format's answer to <see cref="IToolCallFormat.Parse"/>.</summary>
public readonly record struct FormatParse(ParseStatus Status, int Length = 0, Refusal Refusal = default)
{
    public static FormatParse NeedMore => new(ParseStatus.NeedMore);
    public static FormatParse NotMine => new(ParseStatus.NotMine);

    public static FormatParse Done(int length) => new(ParseStatus.Done, length);

    public static FormatParse Refuse(ToolCallRepairRejection reason, string? name = null) => new(ParseStatus.Refused, 0, new Refusal(reason, name));

    public static FormatParse Refuse(Refusal refusal) => new(ParseStatus.Refused, 0, refusal);

    /// <summary>Done when nothing was refused, else the refusal.</summary>
    public static FormatParse DoneOr(Refusal? refusal, int length) => refusal is { } r ? Refuse(r) : Done(length);

    /// <summary>What a format with a closing marker says when the text ended before it: wait, or (at the end) unclosed.</summary>
    public static FormatParse Open(bool final) => final ? Refuse(ToolCallRepairRejection.Unclosed) : NeedMore;
}
