using System.Text.Json;

namespace CopilotProxy.Upstream;

/// <summary>
/// Reading numbers from upstream JSON without trusting its types: <see cref="JsonElement.TryGetInt32"/> throws on a
/// string or an object where a number belongs, and an upstream that sends one must not take the stream down with it
/// (found by fuzzing the SSE parser).
/// </summary>
internal static class UpstreamJson
{
    /// <summary>Above this a tool-call index is garbage, not a real call; bounds the per-index bookkeeping.</summary>
    public const int MaxToolCallIndex = 1024;

    public static bool TryGetInt32(JsonElement parent, string name, out int value)
    {
        value = 0;
        return parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var element)
            && element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out value);
    }

    public static bool TryGetInt32(JsonElement parent, ReadOnlySpan<byte> name, out int value)
    {
        value = 0;
        return parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var element)
            && element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out value);
    }

    /// <summary>About 30 years: longer than any generation, far inside what TimeSpan holds.</summary>
    private const double MaxMilliseconds = 1e12;

    /// <summary>
    /// A duration the upstream reports (llama.cpp's <c>timings.prompt_ms</c>), when it is one a TimeSpan can hold: an
    /// upstream that sends <c>1e300</c> or a negative time gets its figure left out, not a failed answer.
    /// </summary>
    public static bool TryGetMilliseconds(JsonElement value, out double milliseconds)
    {
        milliseconds = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out milliseconds) && milliseconds is >= 0 and < MaxMilliseconds;
    }

    /// <summary>
    /// A lookup that answers false where <see cref="JsonElement.TryGetProperty(ReadOnlySpan{byte}, out JsonElement)"/>
    /// throws: on an element that is not an object (an upstream that sends <c>"content_block": 3</c>).
    /// </summary>
    public static bool TryGetMember(this JsonElement element, ReadOnlySpan<byte> name, out JsonElement value)
    {
        value = default;
        return element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out value);
    }

    /// <summary>True when the element is a string equal to <paramref name="text"/>; <see cref="JsonElement.ValueEquals(ReadOnlySpan{byte})"/> throws on any other kind.</summary>
    public static bool IsString(this JsonElement element, ReadOnlySpan<byte> text) =>
        element.ValueKind == JsonValueKind.String && element.ValueEquals(text);

    /// <summary>The call's <c>index</c> when it is a usable one, else <paramref name="position"/> (its place in the array).</summary>
    public static int ToolCallIndex(JsonElement call, int position) =>
        TryGetInt32(call, "index"u8, out var index) && index is >= 0 and < MaxToolCallIndex ? index : position;
}
