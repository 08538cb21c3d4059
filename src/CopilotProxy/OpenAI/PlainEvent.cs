using System.Buffers;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>What the fast-path scan learned about a plain event.</summary>
/// <param name="Choices">How many choices the event has.</param>
/// <param name="ContentStart">Where the first choice's <c>content</c> string token starts (its opening quote), or -1.</param>
/// <param name="ContentEnd">Where that token ends (after its closing quote).</param>
/// <param name="Timings">The event carries llama.cpp's <c>timings</c> (the relay passes it through; the translation reads it).</param>
/// <param name="FirstChoiceIrregular">The first choice has an index other than 0, a <c>text</c>, or a repeated <c>delta</c>,
/// <c>index</c> or delta member: a reader that picks the choice by index, falls back to <c>text</c>, or takes the last of
/// repeated keys may see something else.</param>
/// <param name="Reasoning">Where the first choice's <c>reasoning_content</c> string token starts and ends, or (-1, -1);
/// only when the scan was asked to accept reasoning.</param>
/// <param name="AltReasoning">The same for <c>reasoning</c> (gpt-oss's name for it).</param>
internal readonly record struct PlainEventScan(int ModelStart, int ModelEnd, string? Finish, bool ChoiceSeen, int? PromptTokens, int? CompletionTokens,
    int Choices = 0, int ContentStart = -1, int ContentEnd = -1, bool Timings = false, bool FirstChoiceIrregular = false,
    (int Start, int End) Reasoning = default, (int Start, int End) AltReasoning = default);

/// <summary>
/// The relay's fast path for the common event: plain text (or an empty delta) with at most a known finish reason. One
/// forward scan with <see cref="Utf8JsonReader"/> proves the event needs nothing but the model name swapped, then the
/// upstream's bytes are copied around the new name: no document, no re-serialisation, no allocation. Tool calls,
/// reasoning, errors and anything unusual fail the scan and take the document path in <see cref="SseRelay"/>. Only
/// compact events qualify (<see cref="CompactReader"/> checks that in the same pass), so both paths write the same bytes.
/// </summary>
internal static class PlainEvent
{
    private static ReadOnlySpan<byte> DataPrefix => "data: "u8;
    private static ReadOnlySpan<byte> EventEnd => "\n\n"u8;

    /// <param name="anyLayout">Accept whitespace between tokens: for a reader that copies only string values, not the event.</param>
    /// <param name="acceptReasoning">Accept <c>reasoning_content</c> and <c>reasoning</c> in the delta and report where they are.</param>
    public static bool TryScan(ReadOnlySpan<byte> data, out PlainEventScan result, bool anyLayout = false, bool acceptReasoning = false)
    {
        var modelStart = -1;
        var modelEnd = -1;
        string? finish = null;
        var choiceSeen = false;
        var choices = 0;
        var first = new FirstChoice(acceptReasoning);
        int? promptTokens = null;
        int? completionTokens = null;
        var timings = false;
        // A surrogate escape (an escaped emoji, or a broken one) takes the document path, which checks it.
        if (StrictJson.HasSurrogateEscape(data))
        {
            return Fail(out result);
        }

        try
        {
            var reader = new CompactReader(data, check: !anyLayout);
            if (!reader.Read() || reader.Json.TokenType != JsonTokenType.StartObject)
            {
                return Fail(out result);
            }

            while (reader.Read() && reader.Json.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.Json.ValueTextEquals(OpenAIChunk.Model))
                {
                    if (!reader.Read() || reader.Json.TokenType != JsonTokenType.String)
                    {
                        return Fail(out result);
                    }

                    modelStart = (int)reader.Json.TokenStartIndex;
                    modelEnd = (int)reader.Json.BytesConsumed;
                }
                else if (reader.Json.ValueTextEquals(OpenAIChunk.Choices))
                {
                    if (!ScanPlainChoices(ref reader, ref finish, ref choiceSeen, ref choices, ref first))
                    {
                        return Fail(out result);
                    }
                }
                else if (reader.Json.ValueTextEquals(OpenAIChunk.Usage))
                {
                    if (!OpenAIChunk.ReadUsage(ref reader.Json, ref promptTokens, ref completionTokens))
                    {
                        return Fail(out result);
                    }

                    reader.CheckValueReadElsewhere();
                }
                else if (reader.Json.ValueTextEquals(OpenAIChunk.Error))
                {
                    return Fail(out result);
                }
                else
                {
                    timings |= reader.Json.ValueTextEquals("timings"u8);
                    reader.Read();
                    reader.Skip();
                }
            }

            if (!reader.EndsCleanly())
            {
                return Fail(out result);
            }
        }
        catch (JsonException)
        {
            return Fail(out result);
        }

        result = new PlainEventScan(modelStart, modelEnd, finish, choiceSeen, promptTokens, completionTokens, choices, first.Content.Start, first.Content.End, timings,
            first.Irregular, first.Reasoning, first.AltReasoning);
        return true;
    }

    /// <summary>Writes <c>data: </c>, the event with its model swapped for <paramref name="clientModelJson"/>, and the blank line.</summary>
    public static void WriteWithModel(ReadOnlySpan<byte> data, in PlainEventScan plain, byte[] clientModelJson, IBufferWriter<byte> output)
    {
        // One GetSpan/Advance for the whole event: Kestrel's response writer takes a lock on each call.
        var model = plain.ModelStart >= 0 ? clientModelJson : [];
        var head = plain.ModelStart >= 0 ? data[..plain.ModelStart] : data;
        var tail = plain.ModelStart >= 0 ? data[plain.ModelEnd..] : [];
        var length = DataPrefix.Length + head.Length + model.Length + tail.Length + EventEnd.Length;
        var span = output.GetSpan(length);
        DataPrefix.CopyTo(span);
        var at = DataPrefix.Length;
        head.CopyTo(span[at..]);
        at += head.Length;
        model.CopyTo(span[at..]);
        at += model.Length;
        tail.CopyTo(span[at..]);
        at += tail.Length;
        EventEnd.CopyTo(span[at..]);
        output.Advance(length);
    }

    private static bool Fail(out PlainEventScan result)
    {
        result = default;
        return false;
    }

    /// <summary>Accepts choices whose delta holds only role and text (and reasoning, when asked), and whose finish reason is a known one.</summary>
    private static bool ScanPlainChoices(ref CompactReader reader, ref string? finish, ref bool choiceSeen, ref int choices, ref FirstChoice first)
    {
        if (!reader.Read() || reader.Json.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        while (reader.Read() && reader.Json.TokenType != JsonTokenType.EndArray)
        {
            if (reader.Json.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            choiceSeen = true;
            choices++;
            var isFirst = choices == 1;
            var deltas = 0;
            var indexes = 0;
            while (reader.Read() && reader.Json.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.Json.ValueTextEquals(OpenAIChunk.Delta))
                {
                    deltas++;
                    if (!reader.Read() || reader.Json.TokenType != JsonTokenType.StartObject)
                    {
                        return false;
                    }

                    while (reader.Read() && reader.Json.TokenType == JsonTokenType.PropertyName)
                    {
                        var member = reader.Json.ValueTextEquals(OpenAIChunk.Content) ? DeltaMember.Content
                            : reader.Json.ValueTextEquals(OpenAIChunk.Role) ? DeltaMember.Role
                            : !first.AcceptReasoning ? DeltaMember.Other
                            : reader.Json.ValueTextEquals(OpenAIChunk.ReasoningContent) ? DeltaMember.Reasoning
                            : reader.Json.ValueTextEquals(OpenAIChunk.Reasoning) ? DeltaMember.AltReasoning
                            : DeltaMember.Other;
                        if (member == DeltaMember.Other)
                        {
                            return false;
                        }

                        if (!reader.Read() || reader.Json.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                        {
                            return false;
                        }

                        if (isFirst)
                        {
                            first.See(member, ref reader.Json);
                        }
                    }
                }
                else if (reader.Json.ValueTextEquals(OpenAIChunk.FinishReason))
                {
                    reader.Read();
                    if (reader.Json.TokenType == JsonTokenType.String)
                    {
                        finish = reader.Json.ValueTextEquals("stop"u8) ? "stop"
                            : reader.Json.ValueTextEquals("length"u8) ? "length"
                            : reader.Json.ValueTextEquals(OpenAIChunk.ToolCalls) ? "tool_calls"
                            : reader.Json.ValueTextEquals("content_filter"u8) ? "content_filter"
                            : null;
                        if (finish is null)
                        {
                            return false;
                        }
                    }
                    else if (reader.Json.TokenType != JsonTokenType.Null)
                    {
                        return false;
                    }
                }
                else
                {
                    var isIndex = reader.Json.ValueTextEquals(OpenAIChunk.Index);
                    first.Irregular |= isFirst && reader.Json.ValueTextEquals("text"u8);
                    reader.Read();
                    if (isIndex)
                    {
                        indexes++;
                        first.Irregular |= isFirst && !(reader.Json.TokenType == JsonTokenType.Number && reader.Json.TryGetInt32(out var index) && index == 0);
                    }

                    reader.Skip();
                }
            }

            first.Irregular |= isFirst && (deltas > 1 || indexes > 1);
        }

        return true;
    }

    private enum DeltaMember
    {
        Other,
        Role,
        Content,
        Reasoning,
        AltReasoning,
    }

    /// <summary>Where the first choice's strings are, and whether any of its keys repeats.</summary>
    private struct FirstChoice(bool acceptReasoning)
    {
        public readonly bool AcceptReasoning = acceptReasoning;
        public (int Start, int End) Content = (-1, -1);
        public (int Start, int End) Reasoning = (-1, -1);
        public (int Start, int End) AltReasoning = (-1, -1);
        public bool Irregular;
        private int _seen;

        /// <summary>Records a delta member's string token (null leaves it unset, as a document reader sees no string).</summary>
        public void See(DeltaMember member, ref Utf8JsonReader reader)
        {
            var bit = 1 << (int)member;
            Irregular |= (_seen & bit) != 0;
            _seen |= bit;
            if (reader.TokenType != JsonTokenType.String)
            {
                return;
            }

            var token = ((int)reader.TokenStartIndex, (int)reader.BytesConsumed);
            switch (member)
            {
                case DeltaMember.Content:
                    Content = token;
                    break;
                case DeltaMember.Reasoning:
                    Reasoning = token;
                    break;
                case DeltaMember.AltReasoning:
                    AltReasoning = token;
                    break;
            }
        }
    }
}

/// <summary>
/// A <see cref="Utf8JsonReader"/> that also proves, in the same pass, that the JSON has no whitespace between its tokens:
/// each token must start exactly where compact JSON puts it. The relay's fast path copies an event's bytes while the
/// document path writes compact JSON, so only a compact event may take the fast path. This replaced a separate
/// <see cref="OpenAIChunk.IsCompact"/> scan, which searched every string a second time and cost about half of the
/// fast path's time per event (<c>RelayBenchmarks</c>).
/// </summary>
internal ref struct CompactReader(ReadOnlySpan<byte> data, bool check)
{
    /// <summary>The reader itself; callers read tokens through <see cref="Read"/> and <see cref="Skip"/> so each one is checked.</summary>
    public Utf8JsonReader Json = new(data);

    private readonly ReadOnlySpan<byte> _data = data;
    private readonly bool _check = check;
    private long _end;
    private JsonTokenType _previous;
    private bool _compact = true;

    public bool Read()
    {
        if (!Json.Read())
        {
            return false;
        }

        if (_check)
        {
            Step();
        }

        return true;
    }

    /// <summary><see cref="Utf8JsonReader.Skip"/>, with a skipped object or array checked as a whole.</summary>
    public void Skip()
    {
        if (Json.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            return;
        }

        var start = Json.TokenStartIndex;
        Json.Skip();
        if (_check)
        {
            _compact &= OpenAIChunk.IsCompact(_data[(int)start..(int)Json.BytesConsumed]);
            Advance(Json.TokenType);
        }
    }

    /// <summary>After another method read a property's whole value through <see cref="Json"/>: checks that value as a whole.</summary>
    public void CheckValueReadElsewhere()
    {
        if (_check)
        {
            _compact &= OpenAIChunk.IsCompact(_data[(int)_end..(int)Json.BytesConsumed]);
            Advance(Json.TokenType);
        }
    }

    /// <summary>
    /// Nothing follows the value read (a document parse would refuse trailing bytes, so the fast path must too), and when
    /// checking, every token sat where compact JSON puts it.
    /// </summary>
    public readonly bool EndsCleanly() => _check
        ? _compact && Json.BytesConsumed == _data.Length
        : _data[(int)Json.BytesConsumed..].IndexOfAnyExcept(" \t\r\n"u8) < 0;

    private void Step()
    {
        var type = Json.TokenType;
        // The gap before a token: nothing after an opening bracket, or after a property name (the reader consumes its
        // colon with it); nothing before a closing bracket; otherwise exactly the comma.
        var gap = _previous is JsonTokenType.None or JsonTokenType.StartObject or JsonTokenType.StartArray or JsonTokenType.PropertyName
            || type is JsonTokenType.EndObject or JsonTokenType.EndArray ? 0 : 1;
        _compact &= Json.TokenStartIndex - _end == gap;
        // A property name's token runs from its opening quote through the colon: whitespace before the colon shows here.
        _compact &= type != JsonTokenType.PropertyName || Json.BytesConsumed - Json.TokenStartIndex == Json.ValueSpan.Length + 3;
        Advance(type);
    }

    private void Advance(JsonTokenType type)
    {
        _end = Json.BytesConsumed;
        _previous = type;
    }
}
