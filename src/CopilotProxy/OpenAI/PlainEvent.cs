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
/// compact events qualify (<see cref="OpenAIChunk.IsCompact"/>), so both paths write the same bytes.
/// </summary>
internal static class PlainEvent
{
    private static ReadOnlySpan<byte> DataPrefix => "data: "u8;
    private static ReadOnlySpan<byte> EventEnd => "\n\n"u8;

    /// <param name="anyLayout">Accept whitespace between tokens: for a reader that copies only string values, not the event.</param>
    /// <param name="acceptReasoning">Accept <c>reasoning_content</c> and <c>reasoning</c> in the delta and report where they are.</param>
    public static bool TryScan(ReadOnlySpan<byte> data, out PlainEventScan result, bool anyLayout = false, bool acceptReasoning = false)
    {
        if (!anyLayout && !OpenAIChunk.IsCompact(data))
        {
            return Fail(out result);
        }

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
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail(out result);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(OpenAIChunk.Model))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    {
                        return Fail(out result);
                    }

                    modelStart = (int)reader.TokenStartIndex;
                    modelEnd = (int)reader.BytesConsumed;
                }
                else if (reader.ValueTextEquals(OpenAIChunk.Choices))
                {
                    if (!ScanPlainChoices(ref reader, ref finish, ref choiceSeen, ref choices, ref first))
                    {
                        return Fail(out result);
                    }
                }
                else if (reader.ValueTextEquals(OpenAIChunk.Usage))
                {
                    if (!OpenAIChunk.ReadUsage(ref reader, ref promptTokens, ref completionTokens))
                    {
                        return Fail(out result);
                    }
                }
                else if (reader.ValueTextEquals(OpenAIChunk.Error))
                {
                    return Fail(out result);
                }
                else
                {
                    timings |= reader.ValueTextEquals("timings"u8);
                    reader.Read();
                    reader.Skip();
                }
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
    private static bool ScanPlainChoices(ref Utf8JsonReader reader, ref string? finish, ref bool choiceSeen, ref int choices, ref FirstChoice first)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            choiceSeen = true;
            choices++;
            var isFirst = choices == 1;
            var deltas = 0;
            var indexes = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(OpenAIChunk.Delta))
                {
                    deltas++;
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                    {
                        return false;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var member = reader.ValueTextEquals(OpenAIChunk.Content) ? DeltaMember.Content
                            : reader.ValueTextEquals(OpenAIChunk.Role) ? DeltaMember.Role
                            : !first.AcceptReasoning ? DeltaMember.Other
                            : reader.ValueTextEquals(OpenAIChunk.ReasoningContent) ? DeltaMember.Reasoning
                            : reader.ValueTextEquals(OpenAIChunk.Reasoning) ? DeltaMember.AltReasoning
                            : DeltaMember.Other;
                        if (member == DeltaMember.Other)
                        {
                            return false;
                        }

                        if (!reader.Read() || reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                        {
                            return false;
                        }

                        if (isFirst)
                        {
                            first.See(member, ref reader);
                        }
                    }
                }
                else if (reader.ValueTextEquals(OpenAIChunk.FinishReason))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        finish = reader.ValueTextEquals("stop"u8) ? "stop"
                            : reader.ValueTextEquals("length"u8) ? "length"
                            : reader.ValueTextEquals(OpenAIChunk.ToolCalls) ? "tool_calls"
                            : reader.ValueTextEquals("content_filter"u8) ? "content_filter"
                            : null;
                        if (finish is null)
                        {
                            return false;
                        }
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        return false;
                    }
                }
                else
                {
                    var isIndex = reader.ValueTextEquals(OpenAIChunk.Index);
                    first.Irregular |= isFirst && reader.ValueTextEquals("text"u8);
                    reader.Read();
                    if (isIndex)
                    {
                        indexes++;
                        first.Irregular |= isFirst && !(reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var index) && index == 0);
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
