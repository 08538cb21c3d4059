using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using CopilotProxy.Configuration;

namespace CopilotProxy.Upstream;

/// <summary>
/// Sends requests to one OpenAI-compatible upstream and turns every failure into an <see cref="UpstreamException"/>.
/// All upstreams share one pooled <see cref="HttpClient"/> (see <see cref="UpstreamRegistry"/>); a client only adds its
/// base URL, where its OpenAI routes live and its key.
/// </summary>
public sealed class UpstreamClient
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly HttpClient _http;
    private readonly ProxySettings _settings;

    /// <summary>The default upstream, <c>LMSTUDIO_URL</c> with <c>LMSTUDIO_API_KEY</c>.</summary>
    public UpstreamClient(HttpClient http, ProxySettings settings)
        : this(http, UpstreamTarget.Default(settings), settings)
    {
    }

    public UpstreamClient(HttpClient http, UpstreamTarget target, ProxySettings settings)
    {
        _http = http;
        _settings = settings;
        Target = target;
    }

    public UpstreamTarget Target { get; }

    public Uri BaseUrl => Target.BaseUrl;

    public TimeSpan IdleTimeout => _settings.UpstreamIdleTimeout;

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

    /// <summary>
    /// The URL of <paramref name="path"/> on this upstream. OpenAI routes are written <c>v1/…</c> and move to where this
    /// upstream serves them (an <c>api_base</c> such as <c>http://host/openai</c> serves <c>chat/completions</c> right
    /// under it); native routes (<c>api/v1/models</c>) are relative to the upstream's root.
    /// </summary>
    public Uri Resolve(string path)
    {
        if (path.StartsWith("v1/", StringComparison.Ordinal) && Target.OpenAIRoutePrefix != "/v1")
        {
            var prefix = Target.OpenAIRoutePrefix.Trim('/');
            path = prefix.Length == 0 ? path[3..] : prefix + path[2..];
        }

        return new Uri(Target.BaseUrl, path);
    }

    /// <summary>Sends a JSON body and returns once response headers arrive; the caller owns the response.</summary>
    public Task<HttpResponseMessage> PostJsonAsync(string path, ReadOnlyMemory<byte> body, ActivityTimeout timeout) =>
        PostJsonAsync(path, body, timeout, null);

    /// <summary>As <see cref="PostJsonAsync(string, ReadOnlyMemory{byte}, ActivityTimeout)"/>, with a model's <c>extra_headers</c>.</summary>
    public Task<HttpResponseMessage> PostJsonAsync(string path, ReadOnlyMemory<byte> body, ActivityTimeout timeout, IReadOnlyDictionary<string, string>? headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Resolve(path)) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = JsonContentType;
        if (headers is not null)
        {
            foreach (var (name, value) in headers)
            {
                if (!request.Headers.TryAddWithoutValidation(name, value))
                {
                    request.Content.Headers.TryAddWithoutValidation(name, value);
                }
            }
        }

        return SendAsync(request, timeout);
    }

    public Task<HttpResponseMessage> GetAsync(string path, ActivityTimeout timeout) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, Resolve(path)), timeout);

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, ActivityTimeout timeout)
    {
        var url = request.RequestUri!;
        if (Target.ApiKey is { } key && request.Headers.Authorization is null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        try
        {
            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
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
        var advice = Target.IsDefault
            ? $"Start LM Studio's local server (Developer tab > Start Server, or `lms server start`) and check LMSTUDIO_URL (now {_settings.LmStudioUrl})."
            : "Start that server, or correct the api_base of the config.yaml entries that use it.";
        var who = Target.IsDefault ? "LM Studio" : "the upstream";
        return new UpstreamException(UpstreamFailure.Connect, $"Cannot reach {who} at {url} ({reason}). {advice}", url, inner: ex);
    }
}
