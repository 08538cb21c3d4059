using System.Net;

namespace CopilotProxy.Bench.Floor;

/// <summary>
/// The upstream handler of the framework floor, shared with bench/load/RawFloor (linked there), so the floor and
/// RawFloor's httpsync relay differ only in async against sync.
/// </summary>
internal static class FloorHandler
{
    public static HttpMessageInvoker Create() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = int.MaxValue,
    });
}
