using System.Globalization;
using System.Text.Json;
using CopilotProxy.Upstream;

namespace CopilotProxy.ToolCalls;

/// <summary>
/// Types an argument that a format wrote as a string (Qwen3-Coder's and Seed-OSS's <c>&lt;parameter=…&gt;</c>, GLM's
/// <c>&lt;arg_value&gt;</c>, MiniMax's <c>&lt;parameter name=…&gt;</c>) by the tool's JSON schema: integer, number,
/// boolean, null, object and array are parsed; a string stays verbatim, without the newline the template puts around it.
/// </summary>
public static class ArgumentTyping
{
    private static readonly char[] Whitespace = [' ', '\t', '\r', '\n'];

    /// <summary>The schema of <paramref name="key"/> in a parameters schema's <c>properties</c>; <c>default</c> when it has none.</summary>
    public static JsonElement PropertySchema(JsonElement parameters, string key) =>
        parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty("properties"u8, out var properties)
        && properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(key, out var schema)
            ? schema
            : default;

    /// <summary>Writes <paramref name="value"/> as the JSON the schema asks for; false when it does not fit any type the schema allows.</summary>
    public static bool TryWrite(Utf8JsonWriter writer, string value, JsonElement schema)
    {
        var types = Types(schema);
        if (types == JsonTypes.None)
        {
            // No schema for this key: GLM's template writes non-strings as JSON and strings raw, so JSON that parses is
            // taken as written and anything else is a string.
            return TryWriteJson(writer, value.Trim(Whitespace), JsonTypes.Any) || WriteString(writer, value);
        }

        var trimmed = value.Trim(Whitespace);
        if ((types & JsonTypes.Null) != 0 && trimmed is "null" or "None")
        {
            writer.WriteNullValue();
            return true;
        }

        if ((types & JsonTypes.Boolean) != 0 && bool.TryParse(trimmed, out var flag))
        {
            writer.WriteBooleanValue(flag);
            return true;
        }

        if ((types & JsonTypes.Integer) != 0 && long.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            writer.WriteNumberValue(integer);
            return true;
        }

        if ((types & (JsonTypes.Number | JsonTypes.Object | JsonTypes.Array)) != 0 && TryWriteJson(writer, trimmed, types))
        {
            return true;
        }

        return (types & JsonTypes.String) != 0 && WriteString(writer, value);
    }

    /// <summary>A string value without the one newline the template adds on each side (<c>&lt;parameter=k&gt;\nvalue\n&lt;/parameter&gt;</c>).</summary>
    public static string StripTemplateNewlines(string value)
    {
        if (value.StartsWith("\r\n", StringComparison.Ordinal))
        {
            value = value[2..];
        }
        else if (value.StartsWith('\n'))
        {
            value = value[1..];
        }

        if (value.EndsWith("\r\n", StringComparison.Ordinal))
        {
            value = value[..^2];
        }
        else if (value.EndsWith('\n'))
        {
            value = value[..^1];
        }

        return value;
    }

    private static bool WriteString(Utf8JsonWriter writer, string value)
    {
        writer.WriteStringValue(StripTemplateNewlines(value));
        return true;
    }

    private static bool TryWriteJson(Utf8JsonWriter writer, string text, JsonTypes types)
    {
        if (text.Length == 0)
        {
            return false;
        }

        try
        {
            using var document = StrictJson.Parse(System.Text.Encoding.UTF8.GetBytes(text));
            var kind = document.RootElement.ValueKind switch
            {
                JsonValueKind.Object => JsonTypes.Object,
                JsonValueKind.Array => JsonTypes.Array,
                JsonValueKind.Number => JsonTypes.Number | JsonTypes.Integer,
                JsonValueKind.True or JsonValueKind.False => JsonTypes.Boolean,
                JsonValueKind.Null => JsonTypes.Null,
                _ => JsonTypes.String,
            };
            if ((kind & types) == 0 || document.RootElement.GetRawText().Length != text.Length)
            {
                return false;
            }

            document.RootElement.WriteTo(writer);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Flags]
    private enum JsonTypes
    {
        None = 0,
        String = 1,
        Integer = 2,
        Number = 4,
        Boolean = 8,
        Null = 16,
        Object = 32,
        Array = 64,
        Any = 127,
    }

    private static JsonTypes Types(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return JsonTypes.None;
        }

        var types = JsonTypes.None;
        if (schema.TryGetProperty("type"u8, out var type))
        {
            if (type.ValueKind == JsonValueKind.String)
            {
                types |= Named(type);
            }
            else if (type.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in type.EnumerateArray())
                {
                    types |= item.ValueKind == JsonValueKind.String ? Named(item) : JsonTypes.None;
                }
            }
        }

        foreach (var alternatives in (ReadOnlySpan<string>)["anyOf", "oneOf"])
        {
            if (schema.TryGetProperty(alternatives, out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var alternative in list.EnumerateArray())
                {
                    types |= Types(alternative);
                }
            }
        }

        return types;
    }

    private static JsonTypes Named(JsonElement type) =>
        type.GetString() switch
        {
            "string" => JsonTypes.String,
            "integer" => JsonTypes.Integer,
            "number" => JsonTypes.Number | JsonTypes.Integer,
            "boolean" => JsonTypes.Boolean,
            "null" => JsonTypes.Null,
            "object" => JsonTypes.Object,
            "array" => JsonTypes.Array,
            _ => JsonTypes.None,
        };
}
