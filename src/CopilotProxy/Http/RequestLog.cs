using System.Collections;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>The one line per request, and DEBUG_LOGGING's bodies; event ids 7xx.</summary>
internal static partial class RequestLog
{
    private static readonly EventId CompletedEvent = new(400, nameof(Completed));

    /// <summary>
    /// The request log line. Written by hand rather than by <c>[LoggerMessage]</c>: a generated template prints an absent
    /// figure as nothing (<c>ttft= ms tokens=/</c>), while this message leaves it out and the fields stay the same set,
    /// with null for what is absent, so a JSON reader always finds every key.
    /// </summary>
    public static void Completed(ILogger logger, LogLevel level, string frontDoor, string method, string route, string clientModel, string upstreamModel,
        int status, double? timeToFirstByteMs, double? timeToFirstTokenMs, double? tokensPerSecond, double totalMs, int? promptTokens, int? completionTokens, string failure,
        string initiator, string interactionId, int repairedToolCalls, string repairedFormat, string reasoningFromText)
    {
        if (logger.IsEnabled(level))
        {
            logger.Log(level, CompletedEvent, new RequestLogLine([frontDoor, method, route, clientModel, upstreamModel, status, timeToFirstByteMs, timeToFirstTokenMs,
                tokensPerSecond, totalMs, promptTokens, completionTokens, failure, initiator, interactionId, repairedToolCalls, repairedFormat, reasoningFromText]), null, RequestLogLine.Format);
        }
    }

    [LoggerMessage(401, LogLevel.Information, "{Method} {Path} request headers: {Headers}; body: {Body}")]
    public static partial void RequestBody(ILogger logger, string method, string path, string headers, string body);

    [LoggerMessage(402, LogLevel.Information, "{Method} {Path} response {Status} headers: {Headers}; body: {Body}")]
    public static partial void ResponseBody(ILogger logger, string method, string path, int status, string headers, string body);
}

/// <summary>The request log line's fields, always all of them in one order; <see cref="Format"/> writes only those present.</summary>
internal readonly struct RequestLogLine(object?[] values) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private const string Template = "{FrontDoor} {Method} {Route} model={ClientModel} upstream_model={UpstreamModel} -> {Status} ttfb={TimeToFirstByteMs} ms "
        + "ttft={TimeToFirstTokenMs} ms tok/s={TokensPerSecond} total={TotalMs} ms tokens={PromptTokens}/{CompletionTokens} failure={Failure} "
        + "initiator={Initiator} interaction={InteractionId} repaired_tool_calls={RepairedToolCalls} repaired_format={RepairedFormat} reasoning_from_text={ReasoningFromText}";

    private static readonly string[] Names =
    [
        "FrontDoor", "Method", "Route", "ClientModel", "UpstreamModel", "Status", "TimeToFirstByteMs", "TimeToFirstTokenMs", "TokensPerSecond",
        "TotalMs", "PromptTokens", "CompletionTokens", "Failure", "Initiator", "InteractionId", "RepairedToolCalls", "RepairedFormat", "ReasoningFromText",
    ];

    public int Count => Names.Length + 1;

    public KeyValuePair<string, object?> this[int index] =>
        index == Names.Length ? new("{OriginalFormat}", Template) : new(Names[index], values[index]);

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public static string Format(RequestLogLine line, Exception? exception)
    {
        var v = line.Values;
        var text = new StringBuilder(192);
        text.Append(CultureInfo.InvariantCulture, $"{v[0]} {v[1]} {v[2]} model={v[3]} upstream_model={v[4]} -> {v[5]}");
        Figure(text, "ttfb=", v[6], " ms");
        Figure(text, "ttft=", v[7], " ms");
        Figure(text, "tok/s=", v[8], string.Empty);
        Figure(text, "total=", v[9], " ms");
        if (v[10] is not null && v[11] is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $" tokens={v[10]}/{v[11]}");
        }
        else
        {
            Figure(text, "prompt_tokens=", v[10], string.Empty);
            Figure(text, "completion_tokens=", v[11], string.Empty);
        }

        text.Append(CultureInfo.InvariantCulture, $" failure={v[12]} initiator={v[13]} interaction={v[14]} repaired_tool_calls={v[15]} repaired_format={v[16]} reasoning_from_text={v[17]}");
        return text.ToString();
    }

    private object?[] Values => values;

    private static void Figure(StringBuilder text, string name, object? value, string unit)
    {
        if (value is not null)
        {
            text.Append(' ').Append(name).Append(CultureInfo.InvariantCulture, $"{value}").Append(unit);
        }
    }
}
