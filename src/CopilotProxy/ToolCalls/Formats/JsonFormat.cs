using System.Text.Json;

namespace CopilotProxy.ToolCalls.Formats;

/// <summary>
/// A bare <c>{"name": …, "arguments"|"parameters": {…}}</c> object, an array of them, or objects separated by <c>;</c>, as
/// the whole answer (optionally in a code fence): Qwen2.5-Coder and Llama 3.1 without their special tokens.
/// </summary>
internal sealed class JsonFormat : IToolCallFormat
{
    public string Name => "json";
    public IReadOnlyList<byte[]> Markers { get; } = ["{"u8.ToArray(), "["u8.ToArray()];
    public bool AtStartOnly => true;

    public FormatParse Parse(ReadOnlySpan<byte> text, bool final, ParsedCalls calls)
    {
        // Decide early, so an answer that merely starts with '{' or '[' (JSON output, a markdown link) streams on.
        if (Shape(text, calls) is { } early)
        {
            return early;
        }

        return JsonCallSequence.Parse(text, 0, final, calls, separated: text[0] == (byte)'{');
    }

    /// <summary>
    /// Reads as far as the text goes: NotMine at a syntax error, a key other than name/arguments/parameters or a scalar where
    /// a call belongs; a refusal at a name the request did not offer; null while it may still be a call.
    /// </summary>
    private static FormatParse? Shape(ReadOnlySpan<byte> text, ParsedCalls calls)
    {
        var reader = new Utf8JsonReader(text, isFinalBlock: false, default);
        var array = text[0] == (byte)'[';
        var expectName = false;
        try
        {
            while (reader.Read())
            {
                var callDepth = array ? 1 : 0;
                switch (reader.TokenType)
                {
                    case JsonTokenType.EndObject or JsonTokenType.EndArray when reader.CurrentDepth == 0:
                        return null;
                    case JsonTokenType.StartArray when reader.CurrentDepth == 0:
                    case JsonTokenType.StartObject or JsonTokenType.EndObject when reader.CurrentDepth == callDepth:
                        break;
                    case JsonTokenType.PropertyName when reader.CurrentDepth == callDepth + 1:
                        expectName = reader.ValueTextEquals("name"u8);
                        if (!expectName && !reader.ValueTextEquals("arguments"u8) && !reader.ValueTextEquals("parameters"u8))
                        {
                            return FormatParse.NotMine;
                        }

                        break;
                    case JsonTokenType.String when expectName && reader.CurrentDepth == callDepth + 1:
                        expectName = false;
                        var name = reader.GetString()!;
                        if (calls.Find(name) is null)
                        {
                            return FormatParse.Refuse(ToolCallRepairRejection.UnknownTool, name);
                        }

                        break;
                    default:
                        if (reader.CurrentDepth <= callDepth || expectName)
                        {
                            return FormatParse.NotMine;
                        }

                        break;
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a name holding half of a surrogate pair ("\ud800"), which no tool name can be.
            return FormatParse.NotMine;
        }

        return null;
    }
}
