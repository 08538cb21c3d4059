namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// JSON call objects (or an array of them) one after another, separated by <c>;</c> as Llama 3.x writes several calls.
/// Shared by the bare JSON, Llama <c>&lt;|python_tag|&gt;</c>, Mistral v3, Granite and Phi-4-mini forms, which have no closing marker.
/// </summary>
internal static class JsonCallSequence
{
    /// <param name="at">Where the first value starts.</param>
    /// <param name="separated">Whether more values may follow after a <c>;</c>.</param>
    public static FormatParse Parse(ReadOnlySpan<byte> text, int at, bool final, ParsedCalls calls, bool separated, Func<string>? newId = null)
    {
        var count = 0;
        var end = at;
        while (true)
        {
            var start = JsonText.SkipWhitespace(text, at);
            if (start == text.Length)
            {
                return !final ? FormatParse.NeedMore : count > 0 ? FormatParse.Done(end) : FormatParse.Refuse(ToolCallRepairRejection.Unclosed);
            }

            if (text[start] is not ((byte)'{' or (byte)'['))
            {
                return count > 0 ? FormatParse.Done(end) : FormatParse.NotMine;
            }

            var length = JsonText.ValueLength(text[start..], out var invalid);
            if (invalid)
            {
                return FormatParse.Refuse(ToolCallRepairRejection.InvalidJson);
            }

            if (length < 0)
            {
                // Without a closing marker, JSON that the answer's end leaves open is broken JSON.
                return final ? FormatParse.Refuse(ToolCallRepairRejection.InvalidJson) : FormatParse.NeedMore;
            }

            if (calls.AddCallObjects(text.Slice(start, length), newId) is { } refused)
            {
                return FormatParse.Refuse(refused);
            }

            count++;
            end = start + length;
            var next = JsonText.SkipWhitespace(text, end);
            if (!separated || (next < text.Length && text[next] != (byte)';'))
            {
                return FormatParse.Done(end);
            }

            if (next == text.Length)
            {
                // A ';' and another call may still come.
                return final ? FormatParse.Done(end) : FormatParse.NeedMore;
            }

            at = next + 1;
        }
    }
}
