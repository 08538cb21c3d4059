using System.Net;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Configuration;

/// <summary>The validated process settings, read from environment variables (and later config.yaml), environment first.</summary>
public sealed record ProxySettings
{
    public Uri LmStudioUrl { get; init; } = new("http://localhost:1234");
    public string? LmStudioApiKey { get; init; }
    public int OllamaPort { get; init; } = 11434;
    public int GatewayPort { get; init; } = 4000;

    /// <summary>Address both front doors bind; loopback unless the container asks for 0.0.0.0.</summary>
    public string Host { get; init; } = "127.0.0.1";

    public string? ApiKey { get; init; }
    public string? ConfigFile { get; init; }
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public string? LogDir { get; init; }

    /// <summary>Size at which a log file in LOG_DIR rolls over to the next one.</summary>
    public long LogFileSizeBytes { get; init; } = 10L * 1024 * 1024;

    /// <summary>Log files kept in LOG_DIR, the current one included; older ones are deleted, so the disk never fills.</summary>
    public int LogFileCount { get; init; } = 5;
    public TimeSpan HealthCheckInterval { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan GracefulShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan ModelRefreshInterval { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Longest silence tolerated from the upstream between two reads; LM Studio may take minutes to JIT-load a model.</summary>
    public TimeSpan UpstreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(600);

    public TimeSpan UpstreamConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public long MaxRequestBodyBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Open client connections allowed over both front doors; null is unlimited. Past it Kestrel refuses new ones.</summary>
    public int? MaxConnections { get; init; } = 1024;

    /// <summary>The version /api/version reports; Copilot refuses anything below 0.6.4.</summary>
    public string OllamaVersion { get; init; } = "0.12.10";

    public bool DevMode { get; init; }
    public bool HotReload { get; init; }
    public bool DebugLogging { get; init; }

    public IPAddress? BindAddress => Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? null : IPAddress.Parse(Host);
}
