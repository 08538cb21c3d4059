using System.Globalization;
using System.Text.Json;

namespace CopilotProxy.Keys;

/// <summary>
/// The fields of a <c>/key/generate</c> or <c>/key/update</c> body, checked one by one so a mistake gets a message naming
/// the field. A field that is absent stays as it was (update); <c>null</c> clears it.
/// </summary>
internal sealed class KeyFields
{
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "key", "key_alias", "models", "rpm_limit", "tpm_limit", "max_parallel_requests", "max_budget_tokens", "max_budget", "duration", "metadata",
    };

    public string? Key { get; private set; }
    public (bool Set, string? Value) KeyAlias { get; private set; }
    public (bool Set, IReadOnlyList<string> Value) Models { get; private set; }
    public (bool Set, long? Value) RpmLimit { get; private set; }
    public (bool Set, long? Value) TpmLimit { get; private set; }
    public (bool Set, long? Value) MaxParallelRequests { get; private set; }
    public (bool Set, long? Value) MaxBudgetTokens { get; private set; }
    public (bool Set, TimeSpan? Value) Duration { get; private set; }
    public (bool Set, string? Value) Metadata { get; private set; }

    /// <summary>The fields, or the first problem as (message, param).</summary>
    public static (KeyFields? Fields, string? Error, string? Param) Parse(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, "The body must be a JSON object, e.g. {\"key_alias\": \"alice\", \"models\": [\"qwen/qwen3-8b\"]}.", null);
        }

        var fields = new KeyFields();
        foreach (var property in body.EnumerateObject())
        {
            var name = property.Name;
            var value = property.Value;
            if (!Known.Contains(name))
            {
                return (null, $"\"{name}\" is not a key field this gateway supports. Supported: {string.Join(", ", Known.Order(StringComparer.Ordinal))}.", name);
            }

            var error = name switch
            {
                "key" => fields.ReadKey(value),
                "key_alias" => ReadString(value, name, out var alias) ?? Set(() => fields.KeyAlias = (true, alias)),
                "models" => fields.ReadModels(value),
                "rpm_limit" => ReadCount(value, name, out var rpm) ?? Set(() => fields.RpmLimit = (true, rpm)),
                "tpm_limit" => ReadCount(value, name, out var tpm) ?? Set(() => fields.TpmLimit = (true, tpm)),
                "max_parallel_requests" => ReadCount(value, name, out var parallel, int.MaxValue) ?? Set(() => fields.MaxParallelRequests = (true, parallel)),
                "max_budget_tokens" => ReadCount(value, name, out var budget) ?? Set(() => fields.MaxBudgetTokens = (true, budget)),
                "max_budget" => value.ValueKind == JsonValueKind.Null ? null
                    : "\"max_budget\" is in dollars, and local models cost none: set \"max_budget_tokens\" (prompt plus completion tokens over the key's lifetime) instead.",
                "duration" => fields.ReadDuration(value),
                _ => fields.ReadMetadata(value),
            };
            if (error is not null)
            {
                return (null, error, name);
            }
        }

        return (fields, null, null);
    }

    private static string? Set(Action assign)
    {
        assign();
        return null;
    }

    private string? ReadKey(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: >= 12 } key || !key.StartsWith(KeyTokens.Prefix, StringComparison.Ordinal)
            || key.Any(char.IsWhiteSpace))
        {
            return "\"key\" must be a string starting with \"sk-\", at least 12 characters, without spaces.";
        }

        Key = key;
        return null;
    }

    private string? ReadModels(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            Models = (true, []);
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(m => m.ValueKind != JsonValueKind.String || m.GetString() is not { Length: > 0 }))
        {
            return "\"models\" must be an array of model names (GET /v1/models lists them); an empty array allows every model.";
        }

        Models = (true, value.EnumerateArray().Select(m => m.GetString()!).Distinct(StringComparer.Ordinal).ToList());
        return null;
    }

    private string? ReadDuration(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            Duration = (true, null);
            return null;
        }

        if (value.ValueKind == JsonValueKind.String && ParseDuration(value.GetString()!) is { } duration)
        {
            Duration = (true, duration);
            return null;
        }

        return "\"duration\" must be a number and a unit, as LiteLLM writes it: \"30s\", \"15m\", \"8h\", \"30d\"; null never expires.";
    }

    private string? ReadMetadata(JsonElement value)
    {
        if (value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            return "\"metadata\" must be a JSON object, e.g. {\"team\": \"search\"}.";
        }

        Metadata = (true, value.ValueKind == JsonValueKind.Null ? null : value.GetRawText());
        return null;
    }

    private static string? ReadString(JsonElement value, string name, out string? result)
    {
        result = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return value.ValueKind == JsonValueKind.Null || result is { Length: > 0 } ? null : $"\"{name}\" must be a non-empty string or null.";
    }

    private static string? ReadCount(JsonElement value, string name, out long? result, long max = long.MaxValue)
    {
        result = null;
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number >= 1 && number <= max)
        {
            result = number;
            return null;
        }

        return $"\"{name}\" must be a whole number from 1 to {max.ToString(CultureInfo.InvariantCulture)}, or null for no limit.";
    }

    /// <summary>LiteLLM's duration strings: a positive whole number then s, m, h or d.</summary>
    internal static TimeSpan? ParseDuration(string text)
    {
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n > 36_500L * 86_400)
        {
            return null;
        }

        return text[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' when n <= 36_500L * 1_440 => TimeSpan.FromMinutes(n),
            'h' when n <= 36_500L * 24 => TimeSpan.FromHours(n),
            'd' when n <= 36_500 => TimeSpan.FromDays(n),
            _ => null,
        };
    }

    /// <summary>The key with these fields applied; <paramref name="now"/> anchors a new duration.</summary>
    public VirtualKey ApplyTo(VirtualKey key, DateTimeOffset now) => key with
    {
        KeyAlias = KeyAlias.Set ? KeyAlias.Value : key.KeyAlias,
        Models = Models.Set ? Models.Value : key.Models,
        RpmLimit = RpmLimit.Set ? RpmLimit.Value : key.RpmLimit,
        TpmLimit = TpmLimit.Set ? TpmLimit.Value : key.TpmLimit,
        MaxParallelRequests = MaxParallelRequests.Set ? (int?)MaxParallelRequests.Value : key.MaxParallelRequests,
        MaxBudgetTokens = MaxBudgetTokens.Set ? MaxBudgetTokens.Value : key.MaxBudgetTokens,
        ExpiresAt = Duration.Set ? (Duration.Value is { } d ? now + d : null) : key.ExpiresAt,
        Metadata = Metadata.Set ? Metadata.Value : key.Metadata,
    };
}
