using System.Collections.Concurrent;
using CopilotProxy.Configuration;

namespace CopilotProxy.Upstream;

/// <summary>
/// Every upstream the proxy talks to, each an <see cref="UpstreamClient"/> over the one pooled <see cref="HttpClient"/>:
/// connection pooling is per host:port inside the handler, so one handler serves any number of upstreams.
/// </summary>
public sealed class UpstreamRegistry : IDisposable
{
    private readonly HttpClient _http;
    private readonly ProxySettings _settings;
    private readonly ConcurrentDictionary<UpstreamTarget, UpstreamClient> _clients = new();

    public UpstreamRegistry(ProxySettings settings)
    {
        _settings = settings;
        _http = new HttpClient(UpstreamClient.CreateHandler(settings)) { Timeout = Timeout.InfiniteTimeSpan };
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
