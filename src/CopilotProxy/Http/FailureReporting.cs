using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Http;

/// <summary>
/// Reports an upstream failure once: on the request's telemetry, which the request log line and the metrics read, and
/// in the log, with client cancellations at Debug because they are nobody's fault. Every relay and translation goes
/// through here, so a failure is never logged twice or counted in two places.
/// </summary>
public static class FailureReporting
{
    /// <returns>True when the client is still there to be answered.</returns>
    public static bool Report(HttpContext context, ILogger logger, string door, string route, UpstreamFailure failure, string message)
    {
        var telemetry = context.GetRequestTelemetry();
        telemetry.Failure = failure;
        telemetry.FailureMessage = message;
        if (failure == UpstreamFailure.ClientCanceled)
        {
            RelayLog.ClientCanceled(logger, door, route);
            return false;
        }

        RelayLog.UpstreamFailed(logger, door, route, failure.ToString(), message);
        return true;
    }

    /// <inheritdoc cref="Report(HttpContext, ILogger, string, string, UpstreamFailure, string)"/>
    public static bool Report(HttpContext context, ILogger logger, string door, string route, UpstreamException failure) =>
        Report(context, logger, door, route, failure.Failure, failure.Message);
}
