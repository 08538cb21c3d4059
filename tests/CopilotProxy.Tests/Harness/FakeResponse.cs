namespace CopilotProxy.Tests.Harness;

public enum FakeResponseKind
{
    Sse,
    Json,
    Hang,
    RawSse,
}

/// <summary>One scripted upstream answer. Build with the static factories.</summary>
public sealed class FakeResponse
{
    private FakeResponse(FakeResponseKind kind)
    {
        Kind = kind;
    }

    public FakeResponseKind Kind { get; }

    public int Status { get; private init; } = 200;

    public string Body { get; private init; } = "";

    public IReadOnlyList<string> Payloads { get; private init; } = [];

    /// <summary>Event names parallel to <see cref="Payloads"/> (an <c>event:</c> line before each <c>data:</c>); empty for plain chat streams.</summary>
    public IReadOnlyList<string> EventNames { get; private init; } = [];

    public TimeSpan DelayBetween { get; private init; }

    public int? DropAfter { get; private init; }

    /// <summary>Extra response headers, such as <c>Retry-After</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; private init; } = new Dictionary<string, string>();

    /// <summary>This response with one more header.</summary>
    public FakeResponse WithHeader(string name, string value) =>
        new(Kind)
        {
            Status = Status,
            Body = Body,
            Payloads = Payloads,
            DelayBetween = DelayBetween,
            DropAfter = DropAfter,
            Headers = new Dictionary<string, string>(Headers) { [name] = value },
        };

    /// <summary>
    /// SSE exactly as LM Studio writes it: <c>data: &lt;payload&gt;\n\n</c> per item, flushed one by one.
    /// <paramref name="dropAfter"/> aborts the TCP connection after that many events (no terminating chunk),
    /// which is what a crashed or killed upstream looks like to the proxy.
    /// </summary>
    public static FakeResponse Sse(IEnumerable<string> dataPayloads, TimeSpan delayBetween = default, int? dropAfter = null)
    {
        ArgumentNullException.ThrowIfNull(dataPayloads);
        return new FakeResponse(FakeResponseKind.Sse) { Payloads = [.. dataPayloads], DelayBetween = delayBetween, DropAfter = dropAfter };
    }

    /// <summary>Named events as the Responses and Messages APIs send them, flushed one by one; <paramref name="dropAfter"/> as in <see cref="Sse"/>.</summary>
    public static FakeResponse Events(IEnumerable<NamedEvent> events, TimeSpan delayBetween = default, int? dropAfter = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        var list = events.ToList();
        return new FakeResponse(FakeResponseKind.Sse)
        {
            Payloads = [.. list.Select(e => e.Data)],
            EventNames = [.. list.Select(e => e.Name)],
            DelayBetween = delayBetween,
            DropAfter = dropAfter,
        };
    }

    public static FakeResponse Json(int status, string body) => new(FakeResponseKind.Json) { Status = status, Body = body };

    /// <summary>LM Studio's string-shaped error, e.g. "No models loaded...".</summary>
    public static FakeResponse ErrorString(int status, string message) =>
        Json(status, "{\"error\":" + JsJson.Quote(message) + "}");

    /// <summary>LM Studio's OpenAI-shaped error object, e.g. model_not_found.</summary>
    public static FakeResponse ErrorObject(int status, string message, string type, string? param, string? code) =>
        Json(status, "{\"error\":{\"message\":" + JsJson.Quote(message) + ",\"type\":" + JsJson.Quote(type)
            + ",\"param\":" + JsJson.Quote(param) + ",\"code\":" + JsJson.Quote(code) + "}}");

    /// <summary>Accepts the request and never answers, until the client goes away or the fake is disposed.</summary>
    public static FakeResponse Hang() => new(FakeResponseKind.Hang);

    /// <summary>Writes these exact characters (UTF-8) as a text/event-stream body, e.g. a captured transcript.</summary>
    public static FakeResponse RawSse(string exactBytes) => new(FakeResponseKind.RawSse) { Body = exactBytes };
}
