using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using CopilotProxy.Configuration;

namespace CopilotProxy.Upstream;

/// <summary>Sends requests to the one OpenAI-compatible upstream and turns every failure into an <see cref="UpstreamException"/>.</summary>
public sealed class UpstreamClient(HttpClient http, ProxySettings settings)
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    public Uri BaseUrl => settings.LmStudioUrl;

    public TimeSpan IdleTimeout => settings.UpstreamIdleTimeout;

    /// <summary>The one pooled handler behind <see cref="HttpClient"/>; tuned for a local, possibly slow-to-load upstream.</summary>
    public static SocketsHttpHandler CreateHandler(ProxySettings settings) => new()
    {
        // llama.cpp's server (inside LM Studio) drops idle keep-alive connections after about 5 s; retire ours first
        // so a request never lands on a socket the upstream already closed.
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(4),
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        ConnectTimeout = settings.UpstreamConnectTimeout,
        AutomaticDecompression = DecompressionMethods.None,
        // The upstream is local; a corporate HTTP_PROXY variable must not reroute loopback traffic.
        UseProxy = false,
        AllowAutoRedirect = false,
        MaxConnectionsPerServer = int.MaxValue,
    };

    public Uri Resolve(string path) => new(settings.LmStudioUrl, path);

    /// <summary>Sends a JSON body and returns once response headers arrive; the caller owns the response.</summary>
    public Task<HttpResponseMessage> PostJsonAsync(string path, ReadOnlyMemory<byte> body, ActivityTimeout timeout)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Resolve(path)) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = JsonContentType;
        return SendAsync(request, timeout);
    }

    public Task<HttpResponseMessage> GetAsync(string path, ActivityTimeout timeout) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, Resolve(path)), timeout);

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, ActivityTimeout timeout)
    {
        var url = request.RequestUri!;
        if (settings.LmStudioApiKey is { } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        try
        {
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            timeout.Touch();
            return response;
        }
        catch (OperationCanceledException ex) when (timeout.ClientAborted)
        {
            throw new UpstreamException(UpstreamFailure.ClientCanceled, "The client disconnected before the upstream answered.", url, inner: ex);
        }
        catch (OperationCanceledException ex) when (timeout.DrainExpired)
        {
            throw ShuttingDown(url, ex);
        }
        catch (OperationCanceledException ex)
        {
            throw TimedOut(url, timeout.Idle, ex);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(url, ex);
        }
        finally
        {
            request.Dispose();
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

    private UpstreamException Unreachable(Uri url, HttpRequestException ex)
    {
        var reason = ex.InnerException is SocketException socket ? socket.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData => "host not found",
            SocketError.TimedOut => "connection timed out",
            _ => socket.Message,
        } : ex.Message;
        return new UpstreamException(UpstreamFailure.Connect,
            $"Cannot reach LM Studio at {url} ({reason}). Start LM Studio's local server (Developer tab > Start Server, or `lms server start`) and check LMSTUDIO_URL (now {settings.LmStudioUrl}).",
            url, inner: ex);
    }
}
