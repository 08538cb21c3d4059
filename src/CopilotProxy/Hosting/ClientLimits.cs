using CopilotProxy.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CopilotProxy.Hosting;

/// <summary>
/// What a misbehaving client may hold, set on purpose rather than left to Kestrel's defaults (docs/reliability.md says
/// why each value, and bench/chaos drills each one against the real process).
/// </summary>
internal static class ClientLimits
{
    /// <summary>Real clients send their headers in one write; a slowloris connection is closed after this.</summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// A body that arrives slower than 1 KiB/s after a 10 s grace is a stalled client, not a slow network: a 64 MB body
    /// over a 1 Mbit/s VPN still runs at over 100 KiB/s.
    /// </summary>
    public static readonly MinDataRate MinRequestBodyDataRate = new(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(10));

    /// <summary>
    /// Kestrel only measures this while a write is waiting for the client to read, so a client that reads a slow token
    /// stream as it comes is never affected; one that stops reading is cut after 30 s of backpressure instead of holding
    /// the upstream (and one of LM Studio's parallel slots) for ever. The grace is long because an IDE's extension host
    /// may pause for seconds.
    /// </summary>
    public static readonly MinDataRate MinResponseDataRate = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(30));

    public static void Apply(KestrelServerLimits limits, ProxySettings settings)
    {
        limits.RequestHeadersTimeout = RequestHeadersTimeout;
        limits.MinRequestBodyDataRate = MinRequestBodyDataRate;
        limits.MinResponseDataRate = MinResponseDataRate;
        limits.MaxConcurrentConnections = settings.MaxConnections;
        // Upgraded connections (none today) would count against the same budget.
        limits.MaxConcurrentUpgradedConnections = settings.MaxConnections;
    }
}
