namespace CopilotProxy.Upstream;

/// <summary>Where an upstream exchange broke and whose fault it was, in the spirit of YARP's ForwarderError.</summary>
public enum UpstreamFailure
{
    /// <summary>No connection could be made: the upstream is not running or the URL is wrong.</summary>
    Connect,

    /// <summary>The upstream went silent for longer than the idle timeout.</summary>
    Timeout,

    /// <summary>The upstream answered with a non-success status.</summary>
    Status,

    /// <summary>The upstream answered 2xx with a body we could not understand.</summary>
    InvalidResponse,

    /// <summary>The upstream stream broke after the client had already received bytes.</summary>
    MidStream,

    /// <summary>The client went away; not an error of ours or the upstream's.</summary>
    ClientCanceled,

    /// <summary>Every deployment of the model is cooling down after repeated failures; nothing was sent.</summary>
    CoolingDown,
    /// <summary>The proxy is shutting down and GRACEFUL_SHUTDOWN_TIMEOUT ran out before the exchange finished.</summary>
    ShuttingDown,
}

/// <summary>A classified upstream failure with a message written for the person who has to fix it.</summary>
public sealed class UpstreamException(UpstreamFailure failure, string message, Uri url, int? upstreamStatus = null, Exception? inner = null)
    : Exception(message, inner)
{
    public UpstreamFailure Failure { get; } = failure;
    public Uri Url { get; } = url;
    public int? UpstreamStatus { get; } = upstreamStatus;

    /// <summary>The upstream's own error text, when it sent one.</summary>
    public string? UpstreamMessage { get; init; }

    /// <summary>The upstream's own error type or code (e.g. model_not_found), when it sent one.</summary>
    public string? UpstreamCode { get; init; }

    /// <summary>
    /// A <see cref="UpstreamFailure.Connect"/> on a pooled connection the upstream had already closed: worth one more try
    /// on a new connection, and no sign that the upstream is down.
    /// </summary>
    public bool StaleConnection { get; init; }

    /// <summary>For <see cref="UpstreamFailure.CoolingDown"/>: when the first deployment is tried again.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
