using System.Text.Json.Serialization;
using CopilotProxy.Catalog.Wire;

namespace CopilotProxy.Loading.Wire;

/// <summary><c>POST /api/v1/models/load</c> (docs/protocol.md §8.5); a null context leaves the choice to LM Studio.</summary>
public sealed record LmStudioLoadRequest(string Model, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ContextLength);

public sealed class LmStudioLoadResponse
{
    public string? Type { get; set; }
    public string? InstanceId { get; set; }
    public string? Status { get; set; }
    public double? LoadTimeSeconds { get; set; }
}

/// <summary><c>POST /api/v1/models/unload</c>.</summary>
public sealed record LmStudioUnloadRequest(string InstanceId);

/// <summary><c>POST /api/v1/models/download</c>.</summary>
public sealed record LmStudioDownloadRequest(string Model, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Quantization);

/// <summary>
/// The answer of <c>POST /api/v1/models/download</c> and of <c>GET /api/v1/models/download/status/{job_id}</c>:
/// status is downloading, paused, completed, failed or already_downloaded.
/// </summary>
public sealed class LmStudioDownloadJob
{
    public string? JobId { get; set; }
    public string? Status { get; set; }
    public long? TotalSizeBytes { get; set; }
    public long? DownloadedBytes { get; set; }
    public double? BytesPerSecond { get; set; }

    /// <summary>Not in the documented shape, but what a failed job should carry; read when present.</summary>
    public string? Error { get; set; }
}

// LM Studio's answers are read only and the requests written only: each context carries only what its direction needs
// (docs/performance.md, "Footprint"). The model list is read with CatalogJsonContext's metadata, which has the same
// options: a second copy here cost the binary 4 KB of property setup alone.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowReadingFromString,
    GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(LmStudioLoadResponse))]
[JsonSerializable(typeof(LmStudioDownloadJob))]
internal sealed partial class LoadingJsonContext : JsonSerializerContext;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(LmStudioLoadRequest))]
[JsonSerializable(typeof(LmStudioUnloadRequest))]
[JsonSerializable(typeof(LmStudioDownloadRequest))]
internal sealed partial class LoadingRequestJsonContext : JsonSerializerContext;
