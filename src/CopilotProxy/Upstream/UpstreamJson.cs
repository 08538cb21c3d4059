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

    /// <summary>The call's <c>index</c> when it is a usable one, else <paramref name="position"/> (its place in the array).</summary>
    public static int ToolCallIndex(JsonElement call, int position) =>
        TryGetInt32(call, "index"u8, out var index) && index is >= 0 and < MaxToolCallIndex ? index : position;
}
