using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using CopilotProxy.Configuration;

namespace CopilotProxy.Upstream;

/// <summary>
/// Sends requests to one OpenAI-compatible upstream and turns every failure into an <see cref="UpstreamException"/>.
/// All upstreams share one pooled handler (see <see cref="UpstreamRegistry"/>); a client only adds its base URL, where
/// its OpenAI routes live and its key.
/// </summary>
public sealed class UpstreamClient
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly HttpMessageInvoker _http;
    private readonly ProxySettings _settings;
    private readonly ConcurrentDictionary<string, Uri> _openAIRoutes = new(StringComparer.Ordinal);

    /// <summary>The default upstream, <c>LMSTUDIO_URL</c> with <c>LMSTUDIO_API_KEY</c>.</summary>
    public UpstreamClient(HttpMessageInvoker http, ProxySettings settings)
        : this(http, UpstreamTarget.Default(settings), settings)
    {
    }

    public UpstreamClient(HttpMessageInvoker http, UpstreamTarget target, ProxySettings settings)
    {
        _http = http;
        _settings = settings;
        Target = target;
    }

    public UpstreamTarget Target { get; }

    /// <summary>What discovery found this upstream to be; set by the model catalog on each successful discovery.</summary>
    public UpstreamKind Kind { get; set; }

    /// <summary>
    /// How messages name <paramref name="upstream"/>: by what discovery found ("LM Studio", "llama.cpp's server", "the
    /// upstream"). Before any discovery, LMSTUDIO_URL is named after what it is configured as, LM Studio, so the first
    /// "cannot reach" message still says what to start.
    /// </summary>
    public static string NameOf(UpstreamClient? upstream) => upstream?.Kind switch
    {
        UpstreamKind.LmStudio => "LM Studio",
        UpstreamKind.LlamaCpp => "llama.cpp's server",
        UpstreamKind.OpenAICompatible => "the upstream",
        _ => upstream is null || upstream.Target.IsDefault ? "LM Studio" : "the upstream",
    };

    /// <summary><see cref="NameOf"/> at the start of a sentence ("The upstream"; "llama.cpp" keeps its lower case).</summary>
    public static string SentenceNameOf(UpstreamClient? upstream) => NameOf(upstream) is "the upstream" ? "The upstream" : NameOf(upstream);

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
        // AutomaticDecompression stays unset: None is its default, and setting it at all, even to None, roots
        // HttpClient's decompression handler and Brotli with it (docs/performance.md, issue 24 round three).
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
        if (!path.StartsWith("v1/", StringComparison.Ordinal))
        {
            return new Uri(Target.BaseUrl, path);
        }

        // Parsing the URL took ~1.5 µs, and every relayed request resolved its route twice. The OpenAI routes are a
        // handful of constants, so their URLs are kept; native routes may carry a model name and are not.
        return _openAIRoutes.GetOrAdd(path, static (route, target) =>
        {
            if (target.OpenAIRoutePrefix != "/v1")
            {
                var prefix = target.OpenAIRoutePrefix.Trim('/');
                route = prefix.Length == 0 ? route[3..] : prefix + route[2..];
            }

            return new Uri(target.BaseUrl, route);
        }, Target);
    }

    /// <summary>Sends a JSON body and returns once response headers arrive; the caller owns the response.</summary>
    public Task<HttpResponseMessage> PostJsonAsync(string path, ReadOnlyMemory<byte> body, ActivityTimeout timeout) =>
        PostJsonAsync(path, body, timeout, null);

    /// <summary>As <see cref="PostJsonAsync(string, ReadOnlyMemory{byte}, ActivityTimeout)"/>, with a model's <c>extra_headers</c>.</summary>
    /// <param name="traceParent">The W3C <c>traceparent</c> to send, so the upstream's own tracing joins the request's trace; null sends none.</param>
    public Task<HttpResponseMessage> PostJsonAsync(string path, ReadOnlyMemory<byte> body, ActivityTimeout timeout, IReadOnlyDictionary<string, string>? headers,
        string? traceParent = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Resolve(path)) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = JsonContentType;
        if (traceParent is not null)
        {
            request.Headers.TryAddWithoutValidation("traceparent", traceParent);
        }

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
            // The handler returns at the response headers; the body streams as the caller reads it.
            var response = await _http.SendAsync(request, timeout.Token);
            timeout.Touch();
            return response;
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException)
        {
            throw UpstreamFailures.Classify(ex, UpstreamStage.Send, timeout, url, this);
        }
        finally
        {
            request.Dispose();
        }
    }
}
