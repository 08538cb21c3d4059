using System.Net.Http;
using System.Net.Sockets;
using System.Text.Json;

namespace CopilotProxy.Upstream;

/// <summary>How far an upstream exchange had got when it failed; decides what a broken connection means.</summary>
public enum UpstreamStage
{
    /// <summary>Sending the request and waiting for the status line and headers.</summary>
    Send,

    /// <summary>Reading an answer the client has not seen any of yet (a JSON body, or a stream that is aggregated).</summary>
    Body,

    /// <summary>Relaying a stream whose first bytes already went to the client.</summary>
    Stream,
}

/// <summary>
/// The one place where an exception from an upstream exchange becomes an <see cref="UpstreamException"/>: which
/// <see cref="UpstreamFailure"/> it is, and a sentence for the person who has to fix it.
/// </summary>
/// <remarks>
/// The messages are built from the exception's type, <see cref="HttpRequestError"/> and <see cref="SocketError"/>, never
/// from <see cref="Exception.Message"/>: the Native AOT build strips framework texts down to resource keys such as
/// <c>net_http_invalid_response_premature_eof</c>, which mean nothing to a user.
/// </remarks>
public static class UpstreamFailures
{
    /// <summary>Classifies <paramref name="ex"/>, thrown at <paramref name="stage"/> of an exchange with <paramref name="upstream"/>.</summary>
    /// <param name="upstream">The upstream asked, for whom to name (<see cref="UpstreamClient.NameOf"/>) and what to advise.</param>
    public static UpstreamException Classify(Exception ex, UpstreamStage stage, ActivityTimeout timeout, Uri url, UpstreamClient? upstream = null)
    {
        ArgumentNullException.ThrowIfNull(ex);
        ArgumentNullException.ThrowIfNull(timeout);
        if (ex is UpstreamException already)
        {
            return already;
        }

        var who = UpstreamClient.SentenceNameOf(upstream);
        var whom = UpstreamClient.NameOf(upstream);
        // A cancelled token explains any exception that comes with it: reads can surface the cancellation as an IOException.
        if (ex is OperationCanceledException || timeout.Token.IsCancellationRequested)
        {
            if (timeout.ClientAborted)
            {
                return new UpstreamException(UpstreamFailure.ClientCanceled,
                    stage == UpstreamStage.Send ? "The client disconnected before the upstream answered." : "The client disconnected before the answer was complete.", url, inner: ex);
            }

            return timeout.DrainExpired ? ShuttingDown(url, ex) : TimedOut(url, timeout.Idle, ex);
        }

        switch (stage)
        {
            case UpstreamStage.Send when IsStaleConnection(ex):
                return new UpstreamException(UpstreamFailure.Connect,
                    $"{who} at {url} closed the connection without answering ({Reason(ex)}). A kept-alive connection the upstream had already closed is tried once more on a new one; if this persists, check the upstream's server log.",
                    url, inner: ex)
                { StaleConnection = true };
            case UpstreamStage.Send:
                var advice = upstream is null ? "Check that the upstream is running."
                    : upstream.Target.IsDefault && upstream.Kind is not (UpstreamKind.LmStudio or UpstreamKind.Unknown)
                        ? $"Start {whom} again and check LMSTUDIO_URL (now {upstream.BaseUrl})."
                    : upstream.Target.IsDefault
                        ? $"Start LM Studio's local server (Developer tab > Start Server, or `lms server start`) and check LMSTUDIO_URL (now {upstream.BaseUrl})."
                        : "Start that server, or correct the api_base of the config.yaml entries that use it.";
                return new UpstreamException(UpstreamFailure.Connect, $"Cannot reach {whom} at {url} ({Reason(ex)}). {advice}", url, inner: ex);
            case UpstreamStage.Body:
                return new UpstreamException(UpstreamFailure.InvalidResponse,
                    ex is JsonException ? $"{who} at {url} sent an answer that is not valid JSON ({Reason(ex)}). Check the upstream's server log."
                        : $"{who} at {url} broke off its answer ({Reason(ex)}). Retry the request; if it keeps happening, check the upstream's server log.",
                    url, 200, ex);
            default:
                return new UpstreamException(UpstreamFailure.MidStream,
                    $"The connection to {whom} at {url} broke mid-stream ({Reason(ex)}). The answer is incomplete; retry the request.",
                    url, 200, ex);
        }
    }

    public static UpstreamException TimedOut(Uri url, TimeSpan idle, Exception? inner = null) =>
        new(UpstreamFailure.Timeout,
            $"The upstream at {url} sent nothing for {idle.TotalSeconds:0} s. If LM Studio is still loading a large model, raise UPSTREAM_TIMEOUT; otherwise check LM Studio's server log.",
            url, inner: inner);

    public static UpstreamException ShuttingDown(Uri url, Exception? inner = null) =>
        new(UpstreamFailure.ShuttingDown,
            "The proxy is shutting down and GRACEFUL_SHUTDOWN_TIMEOUT ran out before the upstream finished; the answer is incomplete. Retry once the proxy is back, or raise GRACEFUL_SHUTDOWN_TIMEOUT.",
            url, inner: inner);

    /// <summary>
    /// The upstream closed a connection before any answer arrived. llama.cpp's server (LM Studio's engine) closes the
    /// connection after every streamed answer without saying <c>Connection: close</c>, so the next request sent on that
    /// pooled connection meets a closed socket: a fault of reuse, not of the upstream, and a new connection succeeds.
    /// </summary>
    private static bool IsStaleConnection(Exception ex) =>
        ex is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }
        || (ex is HttpRequestException && SocketErrorOf(ex) is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted);

    /// <summary>A few words on what broke, from the exception's kind; never its (resource-key) message.</summary>
    public static string Reason(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (SocketErrorOf(ex) is { } socket)
        {
            return socket switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
                SocketError.TimedOut => "connection timed out",
                SocketError.ConnectionReset => "the connection was reset",
                SocketError.ConnectionAborted or SocketError.Shutdown => "the connection was closed",
                SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.NetworkDown or SocketError.HostDown => "network unreachable",
                SocketError.AddressNotAvailable => "address not available",
                _ => $"socket error {socket}",
            };
        }

        var error = ex switch
        {
            HttpRequestException request => request.HttpRequestError,
            HttpIOException io => io.HttpRequestError,
            _ => (ex.InnerException as HttpIOException)?.HttpRequestError ?? HttpRequestError.Unknown,
        };
        return error switch
        {
            HttpRequestError.NameResolutionError => "host not found",
            HttpRequestError.ConnectionError => "the connection failed",
            HttpRequestError.SecureConnectionError => "the TLS handshake failed",
            HttpRequestError.HttpProtocolError => "the upstream broke the HTTP protocol",
            HttpRequestError.ResponseEnded => "the upstream closed the connection before the answer was complete",
            HttpRequestError.InvalidResponse => "the upstream's HTTP response was malformed",
            HttpRequestError.ConfigurationLimitExceeded => "the upstream's response headers were too large",
            HttpRequestError.VersionNegotiationError => "no common HTTP version",
            HttpRequestError.ProxyTunnelError => "the HTTP proxy tunnel failed",
            HttpRequestError.UserAuthenticationError => "authentication failed",
            _ => ex switch
            {
                JsonException { LineNumber: { } line } json => $"malformed JSON at line {line + 1}, position {json.BytePositionInLine + 1}",
                JsonException => "malformed JSON",
                IOException => "the connection broke",
                _ => $"{ex.GetType().Name}",
            },
        };
    }

    private static SocketError? SocketErrorOf(Exception? ex)
    {
        for (var depth = 0; ex is not null && depth < 4; depth++, ex = ex.InnerException)
        {
            if (ex is SocketException socket)
            {
                return socket.SocketErrorCode;
            }
        }

        return null;
    }
}
