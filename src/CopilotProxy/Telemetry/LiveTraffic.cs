namespace CopilotProxy.Telemetry;

/// <summary>A request the proxy is serving right now, as the dashboard shows it.</summary>
public sealed class InFlightRequest
{
    internal InFlightRequest(long id, DateTimeOffset startedAt, string frontDoor, string method, string path, string client, RequestTelemetry telemetry)
    {
        Id = id;
        StartedAt = startedAt;
        FrontDoor = frontDoor;
        Method = method;
        Path = path;
        Client = client;
        Telemetry = telemetry;
    }

    public long Id { get; }
    public DateTimeOffset StartedAt { get; }
    public string FrontDoor { get; }
    public string Method { get; }
    public string Path { get; }

    /// <summary>The calling program as its User-Agent names itself (first product token only: never keys or bodies).</summary>
    public string Client { get; }

    /// <summary>Live: relays fill in the model and the first-token time while the request runs.</summary>
    public RequestTelemetry Telemetry { get; }
}

/// <summary>A finished request: what the request log line says, kept for the dashboard.</summary>
public sealed record FinishedRequest(
    long Id,
    DateTimeOffset FinishedAt,
    string FrontDoor,
    string Method,
    string Route,
    string Client,
    string? Model,
    int Status,
    double? TimeToFirstTokenMs,
    double? TokensPerSecond,
    double TotalMs,
    int? PromptTokens,
    int? CompletionTokens,
    string? Failure);

/// <summary>Counters since the proxy started; errors by failure class, or client_error/server_error for a 4xx/5xx without one.</summary>
public sealed record TrafficTotals(long Requests, long PromptTokens, long CompletionTokens, IReadOnlyDictionary<string, long> ErrorsByClass);

/// <summary>
/// The requests in flight and the last <see cref="Capacity"/> finished ones, in memory only (a bounded ring), plus totals
/// since start. The request logging middleware feeds it; the dashboard reads it and listens to <see cref="Changed"/>.
/// </summary>
public sealed class LiveTraffic(TimeProvider time)
{
    public const int Capacity = 200;

    private readonly Lock _gate = new();
    private readonly Dictionary<long, InFlightRequest> _inFlight = [];
    private readonly FinishedRequest?[] _ring = new FinishedRequest?[Capacity];
    private readonly RequestInspection?[] _inspections = new RequestInspection?[Capacity];
    private readonly Dictionary<string, long> _errors = new(StringComparer.Ordinal);
    private int _next;
    private long _ids;
    private long _requests;
    private long _promptTokens;
    private long _completionTokens;

    /// <summary>Raised after a request starts (with it) or finishes (with its record); handlers must not block.</summary>
    public event Action<InFlightRequest?, FinishedRequest?>? Changed;

    public InFlightRequest Start(string frontDoor, string method, string path, string? userAgent, RequestTelemetry telemetry)
    {
        var request = new InFlightRequest(Interlocked.Increment(ref _ids), time.GetUtcNow(), frontDoor, method, path, ClientName(userAgent), telemetry);
        lock (_gate)
        {
            _inFlight[request.Id] = request;
        }

        Changed?.Invoke(request, null);
        return request;
    }

    public FinishedRequest Finish(InFlightRequest request, string frontDoor, string route, int status, TimeSpan total)
    {
        var telemetry = request.Telemetry;
        var finished = new FinishedRequest(
            request.Id, time.GetUtcNow(), frontDoor, request.Method, route, request.Client, telemetry.UpstreamModel ?? telemetry.ClientModel, status,
            telemetry.TimeToFirstToken is { } ttft ? Math.Round(ttft.TotalMilliseconds, 1) : null,
            TokensPerSecond(telemetry, total), Math.Round(total.TotalMilliseconds, 1), telemetry.PromptTokens, telemetry.CompletionTokens,
            telemetry.Failure is { } failure ? ProxyMetrics.FailureClass(failure) : status >= 500 ? "server_error" : status >= 400 ? "client_error" : null);
        var inspection = RequestInspection.From(request, finished, total);
        lock (_gate)
        {
            _inFlight.Remove(request.Id);
            _ring[_next] = finished;
            _inspections[_next] = inspection;
            _next = (_next + 1) % Capacity;
            _requests++;
            _promptTokens += telemetry.PromptTokens ?? 0;
            _completionTokens += telemetry.CompletionTokens ?? 0;
            if (finished.Failure is { } failureClass)
            {
                _errors[failureClass] = _errors.GetValueOrDefault(failureClass) + 1;
            }
        }

        Changed?.Invoke(null, finished);
        return finished;
    }

    public IReadOnlyList<InFlightRequest> InFlight()
    {
        lock (_gate)
        {
            return [.. _inFlight.Values.OrderBy(r => r.Id)];
        }
    }

    /// <summary>The finished requests kept, oldest first.</summary>
    public IReadOnlyList<FinishedRequest> Recent()
    {
        lock (_gate)
        {
            var list = new List<FinishedRequest>(Capacity);
            for (var i = 0; i < Capacity; i++)
            {
                if (_ring[(_next + i) % Capacity] is { } finished)
                {
                    list.Add(finished);
                }
            }

            return list;
        }
    }

    /// <summary>The request inspector's view of one of the kept finished requests; null once it left the ring (or never finished).</summary>
    public RequestInspection? Inspect(long id)
    {
        lock (_gate)
        {
            foreach (var inspection in _inspections)
            {
                if (inspection?.Id == id)
                {
                    return inspection;
                }
            }

            return null;
        }
    }

    public TrafficTotals Totals()
    {
        lock (_gate)
        {
            return new TrafficTotals(_requests, _promptTokens, _completionTokens, new Dictionary<string, long>(_errors, StringComparer.Ordinal));
        }
    }

    /// <summary>Output tokens over the time they took to stream (after the first one); null when either is unknown.</summary>
    public static double? TokensPerSecond(RequestTelemetry telemetry, TimeSpan total)
    {
        if (telemetry.CompletionTokens is not { } tokens || tokens <= 0)
        {
            return null;
        }

        var generating = total - (telemetry.TimeToFirstToken ?? TimeSpan.Zero);
        return generating > TimeSpan.FromMilliseconds(1) ? Math.Round(tokens / generating.TotalSeconds, 1) : null;
    }

    /// <summary>"GitHubCopilotChat/0.31.0 (…)" becomes "GitHubCopilotChat/0.31.0": enough to tell clients apart, nothing personal.</summary>
    private static string ClientName(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return "-";
        }

        var token = userAgent.AsSpan().Trim();
        var space = token.IndexOf(' ');
        if (space > 0)
        {
            token = token[..space];
        }

        return token.Length > 60 ? token[..60].ToString() : token.ToString();
    }
}
