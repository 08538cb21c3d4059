using System.Text.Json;
using System.Text.Json.Serialization;
using CopilotProxy.Telemetry;

namespace CopilotProxy.Dashboard.Wire;

/// <summary>GET /ui/api/state: everything the page shows that is not a live event.</summary>
public sealed record DashboardState(
    string Version,
    DateTimeOffset StartedAt,
    bool KeyRequired,
    IReadOnlyList<DashboardUpstream> Upstreams,
    IReadOnlyList<DashboardModel> Models,
    string? CatalogError,
    DashboardTraffic Traffic,
    IReadOnlyList<ModelJob> Jobs,
    FrontDoorUrls FrontDoors);

/// <summary>Where clients point: the two front doors as this request reached the proxy.</summary>
public sealed record FrontDoorUrls(string Ollama, string Gateway);

/// <summary>One upstream: its URL (never credentials), whether its last discovery worked, and how long a model list took.</summary>
public sealed record DashboardUpstream(string Url, bool Healthy, string? Discovery, int Models, DateTimeOffset? LastSuccess, string? Error, double? LatencyMs);

/// <summary>
/// One model of the model catalog with what a person picks it by: capabilities, load state, the loaded and maximum
/// context, the context clients budget for (what it will be loaded with), and the seconds left of its idle TTL when known.
/// </summary>
public sealed record DashboardModel(
    string Id,
    string UpstreamId,
    string Upstream,
    string Kind,
    IReadOnlyList<string> Capabilities,
    bool Loaded,
    int? LoadedContextLength,
    int? MaxContextLength,
    int? ContextLength,
    int? TtlSeconds,
    bool CanLoad);

public sealed record DashboardTraffic(IReadOnlyList<DashboardInFlight> InFlight, IReadOnlyList<FinishedRequest> Recent, TrafficTotals Totals);

/// <summary>A request in flight, as of now: its model is known once the model catalog resolved it.</summary>
public sealed record DashboardInFlight(long Id, DateTimeOffset StartedAt, string FrontDoor, string Method, string Path, string Client, string? Model, double ElapsedMs,
    double? TimeToFirstTokenMs, bool Streaming);

/// <summary>The event a finished request sends: the request and the totals it changed.</summary>
public sealed record FinishedEvent(FinishedRequest Request, TrafficTotals Totals);

/// <summary>POST /ui/api/models/load and /unload.</summary>
public sealed class ModelActionRequest
{
    public string? Model { get; set; }
}

/// <summary>
/// The request inspector's answer for one request: what happened, and its bodies when CAPTURE_BODIES kept them (null when
/// capture is off, or the request left the capture ring of the last <paramref name="CaptureLimit"/>).
/// </summary>
public sealed record DashboardInspection(RequestInspection Request, CapturedExchange? Capture, bool CaptureBodies, int CaptureLimit);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never, UseStringEnumConverter = true, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(DashboardState))]
[JsonSerializable(typeof(IReadOnlyList<DashboardInFlight>))]
[JsonSerializable(typeof(FinishedEvent))]
[JsonSerializable(typeof(ModelJob))]
[JsonSerializable(typeof(DashboardTraffic))]
[JsonSerializable(typeof(DashboardInspection))]
internal sealed partial class DashboardJsonContext : JsonSerializerContext;

public enum ModelJobState
{
    Running,
    Done,
    Failed,
}

/// <summary>A load or unload started from the page. <c>Progress</c> is 0–1 when the upstream reports it, null while unknown.</summary>
public sealed record ModelJob(string Model, string Action, ModelJobState State, string? Message, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, double? Progress);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(ModelActionRequest))]
internal sealed partial class DashboardRequestJsonContext : JsonSerializerContext;
