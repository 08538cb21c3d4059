using System.Collections.Concurrent;
using CopilotProxy.Configuration;

namespace CopilotProxy.Upstream;

/// <summary>
/// Every upstream the proxy talks to, each an <see cref="UpstreamClient"/> over the one pooled handler:
/// connection pooling is per host:port inside the handler, so one handler serves any number of upstreams.
/// </summary>
/// <remarks>
/// An <see cref="HttpMessageInvoker"/>, not an <see cref="HttpClient"/>: the client's timeout, pending-request
/// cancellation and buffering are all unused here (<see cref="ActivityTimeout"/> does the timing, bodies always
/// stream), and its linked token source per request cost time on every request.
/// </remarks>
public sealed class UpstreamRegistry : IDisposable
{
    private readonly HttpMessageInvoker _http;
    private readonly ProxySettings _settings;
    private readonly ConcurrentDictionary<UpstreamTarget, UpstreamClient> _clients = new();

    public UpstreamRegistry(ProxySettings settings)
    {
        _settings = settings;
        _http = new HttpMessageInvoker(UpstreamClient.CreateHandler(settings));
        Default = Get(UpstreamTarget.Default(settings));
    }

    /// <summary><c>LMSTUDIO_URL</c> with <c>LMSTUDIO_API_KEY</c>.</summary>
    public UpstreamClient Default { get; }

    public UpstreamClient Get(UpstreamTarget target) =>
        _clients.GetOrAdd(target, static (t, self) => new UpstreamClient(self._http, t, self._settings), this);

    public UpstreamClient For(ModelEntry entry) => Get(UpstreamTarget.For(entry, _settings));

    /// <summary>
    /// The upstreams a configuration uses, in file order: those its entries name, and the default upstream when there are
    /// no entries at all (zero configuration serves everything LMSTUDIO_URL has).
    /// </summary>
    public IReadOnlyList<UpstreamClient> ForConfig(GatewayConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Models.Count == 0)
        {
            return [Default];
        }

        return config.Models.Select(For).Distinct().ToArray();
    }

    public void Dispose() => _http.Dispose();
}
