using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Ollama;

/// <summary>The Ollama request fields every translated route parses and validates before anything is sent upstream: think, keep_alive, format, images, options.</summary>
public static partial class ChatTranslation
{
    public static string? ReasoningEffort(ThinkSetting think) => think switch
    {
        ThinkSetting.Off => "none",
        ThinkSetting.On or ThinkSetting.Medium => "medium",
        ThinkSetting.Low => "low",
        ThinkSetting.High => "high",
        ThinkSetting.Max => "xhigh",
        _ => null,
    };

    /// <summary>Null when <paramref name="format"/> is acceptable, else Ollama's error text.</summary>
    public static string? ValidateFormat(JsonElement? format) => format switch
    {
        null => null,
        { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.Object } => null,
        { ValueKind: JsonValueKind.String } f when f.ValueEquals(""u8) || f.ValueEquals("json"u8) => null,
        _ => "invalid format: expected \"json\" or a JSON schema",
    };

    /// <summary>
    /// Ollama's error text for a JSON null where the history needs an object (a message, a tool call); null when there is
    /// none. The deserialiser lets such nulls through, and every later step would trip over them (a 500, found by the
    /// property tests).
    /// </summary>
    public static string? FindNull(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (var m = 0; m < messages.Count; m++)
        {
            if (messages[m] is not { } message)
            {
                return $"messages[{m}] is null: each message must be an object such as {{\"role\":\"user\",\"content\":\"hi\"}}";
            }

            for (var c = 0; c < (message.ToolCalls?.Count ?? 0); c++)
            {
                if (message.ToolCalls![c] is null)
                {
                    return $"messages[{m}].tool_calls[{c}] is null: each tool call must be an object such as {{\"function\":{{\"name\":\"f\",\"arguments\":{{}}}}}}";
                }
            }
        }

        return null;
    }

    /// <summary>Null when every image is base64 (or a base64 data URL), else Ollama's error text.</summary>
    public static string? ValidateImages(IEnumerable<string>? images)
    {
        foreach (var image in images ?? [])
        {
            if (image is null)
            {
                return "invalid image data: images must be base64-encoded strings, not null";
            }

            var payload = image.StartsWith("data:", StringComparison.Ordinal) && image.IndexOf(";base64,", StringComparison.Ordinal) is var at and > 0
                ? image.AsSpan(at + ";base64,".Length)
                : image.AsSpan();
            if (payload.IsEmpty || !Base64.IsValid(payload))
            {
                return "invalid image data: images must be base64-encoded";
            }
        }

        return null;
    }

    /// <summary>Parses <c>think</c>; false with Ollama's error text when the value is neither a boolean nor a known level.</summary>
    public static bool TryParseThink(JsonElement? value, out ThinkSetting think, out string? error)
    {
        error = null;
        think = ThinkSetting.Unset;
        if (value is not { } v || v.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return true;
        }

        think = v.ValueKind switch
        {
            JsonValueKind.True => ThinkSetting.On,
            JsonValueKind.False => ThinkSetting.Off,
            JsonValueKind.String => v.GetString() switch
            {
                "true" => ThinkSetting.On,
                "false" => ThinkSetting.Off,
                "low" => ThinkSetting.Low,
                "medium" => ThinkSetting.Medium,
                "high" => ThinkSetting.High,
                "max" => ThinkSetting.Max,
                _ => ThinkSetting.Unset,
            },
            _ => ThinkSetting.Unset,
        };
        if (think == ThinkSetting.Unset)
        {
            error = $"invalid think value: {v.GetRawText()} (must be true, false, \"low\", \"medium\", \"high\" or \"max\")";
            return false;
        }

        return true;
    }

    /// <summary>
    /// Parses <c>keep_alive</c>: a number of seconds or a Go duration (<c>"5m"</c>, <c>"1h30m"</c>, <c>"-1"</c>). Null means
    /// unset; zero means unload; negative means keep loaded forever.
    /// </summary>
    public static bool TryParseKeepAlive(JsonElement? value, out TimeSpan? keepAlive, out string? error)
    {
        keepAlive = null;
        error = null;
        if (value is not { } v || v.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return true;
        }

        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var seconds) && !double.IsNaN(seconds))
        {
            keepAlive = KeepAliveSeconds(seconds);
            return true;
        }

        if (v.ValueKind == JsonValueKind.String && TryParseGoDuration(v.GetString()!, out var duration))
        {
            keepAlive = duration;
            return true;
        }

        error = $"invalid keep_alive: {v.GetRawText()} (use a duration such as \"5m\", or seconds)";
        return false;
    }

    /// <summary>LM Studio's <c>ttl</c> (whole seconds, positive) for a keep_alive; null when there is nothing to send.</summary>
    public static int? TtlSeconds(TimeSpan? keepAlive) =>
        keepAlive is { } k && k > TimeSpan.Zero ? (int)Math.Min(int.MaxValue, Math.Ceiling(k.TotalSeconds)) : null;

    /// <summary>The option names that have no upstream equivalent (num_ctx, num_gpu, …), for the debug log.</summary>
    public static string? IgnoredOptions(GenerationOptions? options) =>
        options?.Unmapped is { Count: > 0 } unmapped ? string.Join(", ", unmapped.Keys) : null;

    private static bool TryParseGoDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var s = text.AsSpan().Trim();
        if (s.IsEmpty)
        {
            return false;
        }

        // A bare number is seconds, as for the numeric form (Ollama clients send "-1" and "0" as strings too).
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare))
        {
            duration = KeepAliveSeconds(bare);
            return !double.IsNaN(bare);
        }

        var negative = s[0] == '-';
        if (s[0] is '-' or '+')
        {
            s = s[1..];
        }

        double totalSeconds = 0;
        while (!s.IsEmpty)
        {
            var numberLength = 0;
            while (numberLength < s.Length && (char.IsAsciiDigit(s[numberLength]) || s[numberLength] == '.'))
            {
                numberLength++;
            }

            if (numberLength == 0 || !double.TryParse(s[..numberLength], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
            {
                return false;
            }

            s = s[numberLength..];
            var unitLength = 0;
            while (unitLength < s.Length && !char.IsAsciiDigit(s[unitLength]) && s[unitLength] != '.')
            {
                unitLength++;
            }

            double? scale = s[..unitLength] switch
            {
                "h" => 3600,
                "m" => 60,
                "s" => 1,
                "ms" => 1e-3,
                "us" or "µs" => 1e-6,
                "ns" => 1e-9,
                _ => null,
            };
            if (scale is not { } unit)
            {
                return false;
            }

            totalSeconds += amount * unit;
            s = s[unitLength..];
        }

        duration = KeepAliveSeconds(negative ? -totalSeconds : totalSeconds);
        return true;
    }

    /// <summary>
    /// Saturates at LM Studio's largest <c>ttl</c> (int seconds, 68 years) instead of overflowing TimeSpan: Ollama reads a
    /// huge keep_alive such as <c>1e300</c> or <c>"99999999h"</c> as "keep it loaded", not as an error.
    /// </summary>
    private static TimeSpan KeepAliveSeconds(double seconds) =>
        TimeSpan.FromSeconds(Math.Clamp(seconds, -int.MaxValue, int.MaxValue));
}
