using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>The one line per request, and DEBUG_LOGGING's bodies; event ids 7xx.</summary>
internal static partial class RequestLog
{
    [LoggerMessage(EventId = 400, Message = "{FrontDoor} {Method} {Route} model={ClientModel} upstream_model={UpstreamModel} -> {Status} ttfb={TimeToFirstByteMs} ms ttft={TimeToFirstTokenMs} ms tok/s={TokensPerSecond} total={TotalMs} ms tokens={PromptTokens}/{CompletionTokens} failure={Failure} initiator={Initiator} interaction={InteractionId} repaired_tool_calls={RepairedToolCalls} reasoning_from_text={ReasoningFromText}")]
    public static partial void Completed(ILogger logger, LogLevel level, string frontDoor, string method, string route, string clientModel, string upstreamModel,
        int status, double? timeToFirstByteMs, double? timeToFirstTokenMs, double? tokensPerSecond, double totalMs, int? promptTokens, int? completionTokens, string failure,
        string initiator, string interactionId, int repairedToolCalls, string reasoningFromText);

    [LoggerMessage(401, LogLevel.Information, "{Method} {Path} request headers: {Headers}; body: {Body}")]
    public static partial void RequestBody(ILogger logger, string method, string path, string headers, string body);

    [LoggerMessage(402, LogLevel.Information, "{Method} {Path} response {Status} headers: {Headers}; body: {Body}")]
    public static partial void ResponseBody(ILogger logger, string method, string path, int status, string headers, string body);
}
