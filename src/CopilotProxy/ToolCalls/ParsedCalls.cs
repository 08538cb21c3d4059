using System.Buffers;
using System.Text;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.ToolCalls;

/// <summary>
/// The calls one block yields, checked against the request's tools: only an offered name counts, and the arguments must
/// become one JSON object. Every format hands its calls over here, so the checks and the ids live in one place.
/// </summary>
public sealed class ParsedCalls
{
    private readonly OfferedTool[] _tools;
    private readonly List<RepairedToolCall> _calls = [];

    public ParsedCalls(OfferedTool[] tools) => _tools = tools;

    /// <summary>The calls added since the last <see cref="Clear"/>.</summary>
    public IReadOnlyList<RepairedToolCall> Calls => _calls;

    public void Clear() => _calls.Clear();

    /// <summary>The offered tool with this name, or null.</summary>
    public OfferedTool? Find(ReadOnlySpan<char> name)
    {
        foreach (var tool in _tools)
        {
            if (name.SequenceEqual(tool.Name))
            {
                return tool;
            }
        }

        return null;
    }

    /// <summary>The offered tool with this UTF-8 name, or null.</summary>
    public OfferedTool? Find(ReadOnlySpan<byte> name)
    {
        Span<char> chars = stackalloc char[256];
        return name.Length <= chars.Length && Encoding.UTF8.TryGetChars(name, chars, out var written) ? Find(chars[..written]) : null;
    }

    /// <summary>One call whose arguments are JSON: an object, or (OpenAI's own shape) a string holding one; missing or null means none.</summary>
    public Refusal? AddJson(string name, JsonElement arguments, string? id = null)
    {
        if (Find(name) is null)
        {
            return new Refusal(ToolCallRepairRejection.UnknownTool, name);
        }

        string text;
        switch (arguments.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                text = "{}";
                break;
            case JsonValueKind.Object:
                text = arguments.GetRawText();
                break;
            case JsonValueKind.String:
                text = arguments.GetString()!;
                if (text.Length == 0)
                {
                    text = "{}";
                }
                else if (!IsJsonObject(Encoding.UTF8.GetBytes(text)))
                {
                    // Clients parse the arguments string as an object and fail on anything else.
                    return new Refusal(ToolCallRepairRejection.InvalidJson, name);
                }

                break;
            default:
                return new Refusal(ToolCallRepairRejection.InvalidJson, name);
        }

        _calls.Add(new RepairedToolCall(id ?? RepairedToolCall.NewId(), name, text));
        return null;
    }

    /// <summary>One call whose arguments are UTF-8 JSON text that must be one object.</summary>
    public Refusal? AddJson(string name, ReadOnlySpan<byte> arguments, string? id = null)
    {
        arguments = arguments.Trim(" \t\r\n"u8);
        if (Find(name) is null)
        {
            return new Refusal(ToolCallRepairRejection.UnknownTool, name);
        }

        if (arguments.IsEmpty)
        {
            _calls.Add(new RepairedToolCall(id ?? RepairedToolCall.NewId(), name, "{}"));
            return null;
        }

        if (!IsJsonObject(arguments))
        {
            return new Refusal(ToolCallRepairRejection.InvalidJson, name);
        }

        _calls.Add(new RepairedToolCall(id ?? RepairedToolCall.NewId(), name, Encoding.UTF8.GetString(arguments)));
        return null;
    }

    /// <summary>One <c>{"name": …, "arguments"|"parameters": …}</c> object (the shape of Hermes, Mistral v3, Granite, Llama and bare JSON).</summary>
    public Refusal? AddCallObject(JsonElement call, string? id = null)
    {
        if (call.ValueKind != JsonValueKind.Object)
        {
            return new Refusal(ToolCallRepairRejection.NotAToolCall);
        }

        if (!call.TryGetProperty("name"u8, out var name) || name.ValueKind != JsonValueKind.String)
        {
            return new Refusal(ToolCallRepairRejection.MissingName);
        }

        if (!call.TryGetProperty("arguments"u8, out var arguments))
        {
            call.TryGetProperty("parameters"u8, out arguments);
        }

        return AddJson(name.GetString()!, arguments, id);
    }

    /// <summary>A call object or a non-empty array of them, as UTF-8 JSON text.</summary>
    /// <param name="newId">Makes the call ids when the format needs its own kind (Mistral's nine characters).</param>
    public Refusal? AddCallObjects(ReadOnlySpan<byte> json, Func<string>? newId = null)
    {
        JsonDocument document;
        try
        {
            document = StrictJson.Parse(json.Trim(" \t\r\n"u8));
        }
        catch (JsonException)
        {
            return new Refusal(ToolCallRepairRejection.InvalidJson);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                return AddCallObject(root, newId?.Invoke());
            }

            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
            {
                return new Refusal(ToolCallRepairRejection.NotAToolCall);
            }

            foreach (var element in root.EnumerateArray())
            {
                if (AddCallObject(element, newId?.Invoke()) is { } refused)
                {
                    return refused;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// One call whose arguments arrived as strings (XML and key/value formats): each value is typed by the tool's schema
    /// (<see cref="ArgumentTyping"/>).
    /// </summary>
    public Refusal? AddTyped(string name, IReadOnlyList<(string Key, string Value)> arguments)
    {
        if (Find(name) is not { } tool)
        {
            return new Refusal(ToolCallRepairRejection.UnknownTool, name);
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in arguments)
            {
                writer.WritePropertyName(key);
                if (!ArgumentTyping.TryWrite(writer, value, ArgumentTyping.PropertySchema(tool.Parameters, key)))
                {
                    return new Refusal(ToolCallRepairRejection.InvalidArguments, name);
                }
            }

            writer.WriteEndObject();
        }

        _calls.Add(new RepairedToolCall(RepairedToolCall.NewId(), name, Encoding.UTF8.GetString(buffer.WrittenSpan)));
        return null;
    }

    /// <summary>One call whose arguments a format already wrote as a JSON object (Python literals, Gemma's object syntax).</summary>
    public Refusal? AddWritten(string name, ReadOnlySpan<byte> objectJson)
    {
        if (Find(name) is null)
        {
            return new Refusal(ToolCallRepairRejection.UnknownTool, name);
        }

        _calls.Add(new RepairedToolCall(RepairedToolCall.NewId(), name, Encoding.UTF8.GetString(objectJson)));
        return null;
    }

    internal static bool IsJsonObject(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = StrictJson.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object && JsonText.ValueLength(json, out _) == json.Length;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
