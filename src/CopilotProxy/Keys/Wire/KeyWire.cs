using System.Text.Json;
using System.Text.Json.Serialization;

namespace CopilotProxy.Keys.Wire;

/// <summary>
/// A virtual key as LiteLLM's key routes show it. <c>key</c> (the clear key) is set only in the answer to
/// <c>/key/generate</c>; <c>token</c> is its hash, which every other route shows and accepts instead.
/// </summary>
public sealed record KeyDetails(
    string Token,
    string KeyName,
    string? KeyAlias,
    IReadOnlyList<string> Models,
    long? RpmLimit,
    long? TpmLimit,
    int? MaxParallelRequests,
    long? MaxBudgetTokens,
    string? Expires,
    JsonElement? Metadata,
    string CreatedAt,
    long SpendTokens)
{
    public string? Key { get; init; }

    public KeyUsageInfo? Usage { get; init; }

    /// <summary>Requests of this key waiting in a deployment queue on this replica right now (dashboard).</summary>
    public int? Waiting { get; init; }
}

/// <summary><c>info.usage</c>: all-time totals, and the same for today (UTC).</summary>
public sealed record KeyUsageInfo(long Requests, long PromptTokens, long CompletionTokens, long TotalTokens, UsageTotals Today);

public sealed record UsageTotals(long Requests, long PromptTokens, long CompletionTokens, long TotalTokens);

/// <summary><c>GET /key/info</c>: LiteLLM's <c>{key, info}</c>, with <c>key</c> the hash.</summary>
public sealed record KeyInfoResponse(string Key, KeyDetails Info);

/// <summary><c>GET /key/list</c>: hashes, or whole keys with <c>return_full_object=true</c>.</summary>
public sealed record KeyListResponse(IReadOnlyList<string> Keys, long TotalCount, int CurrentPage, long TotalPages);

public sealed record KeyListFullResponse(IReadOnlyList<KeyDetails> Keys, long TotalCount, int CurrentPage, long TotalPages);

/// <summary><c>POST /key/delete</c>: the hashes of the keys that existed and are gone.</summary>
public sealed record KeyDeleteResponse(IReadOnlyList<string> DeletedKeys);

// The key API's answers are written only: the fast-path serializer alone, without the metadata reading needs
// (docs/performance.md, "Footprint"). The stored model list is read back too, so it has a context of its own.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(KeyDetails))]
[JsonSerializable(typeof(KeyInfoResponse))]
[JsonSerializable(typeof(KeyListResponse))]
[JsonSerializable(typeof(KeyListFullResponse))]
[JsonSerializable(typeof(KeyDeleteResponse))]
internal sealed partial class KeysJsonContext : JsonSerializerContext;

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(List<string>))]
internal sealed partial class KeyStoreJsonContext : JsonSerializerContext;
