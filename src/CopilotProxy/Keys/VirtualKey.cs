namespace CopilotProxy.Keys;

/// <summary>One virtual key as stored: its hash (the token), never the key itself.</summary>
public sealed record VirtualKey
{
    /// <summary>SHA-256 of the key, hex: the primary key and LiteLLM's "token".</summary>
    public required string Token { get; init; }

    /// <summary><c>sk-...abcd</c>: shown in lists so a person can tell keys apart.</summary>
    public required string KeyName { get; init; }

    public string? KeyAlias { get; init; }

    /// <summary>The alias, else the <c>sk-...abcd</c> name: how messages, metrics and the dashboard name the key.</summary>
    public string Label => KeyAlias ?? KeyName;

    /// <summary>Models the key may use; empty means every model.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    public long? RpmLimit { get; init; }
    public long? TpmLimit { get; init; }

    /// <summary>Requests this key may have in flight on one replica (LiteLLM counts them per process too).</summary>
    public int? MaxParallelRequests { get; init; }

    /// <summary>Tokens (prompt plus completion) the key may use in its lifetime.</summary>
    public long? MaxBudgetTokens { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The caller's metadata object, kept as the JSON text it sent.</summary>
    public string? Metadata { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Tokens used so far, as the usage writer last recorded them; the budget is checked against this.</summary>
    public long SpentTokens { get; init; }

    public bool Allows(string model) => Models.Count == 0 || Models.Contains(model, StringComparer.Ordinal);

    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;
}

/// <summary>Requests and tokens counted for a key.</summary>
public readonly record struct KeyUsage(long Requests, long PromptTokens, long CompletionTokens)
{
    public long TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A key's requests and tokens in one rate-limit minute.</summary>
public readonly record struct KeyWindow(long Requests, long Tokens);
