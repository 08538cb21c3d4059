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

    /// <summary>
    /// OLLAMA_ORIGINS: web origins, beyond the local ones every Ollama allows, whose pages may call the proxy from a
    /// browser (patterns with <c>*</c>; a lone <c>*</c> allows every site).
    /// </summary>
    public IReadOnlyList<string> OllamaOrigins { get; init; } = [];

    public string? ApiKey { get; init; }

    /// <summary>The file <see cref="ApiKey"/> was read from (API_KEY_FILE, or the settings folder's key file); null otherwise.</summary>
    public string? ApiKeyFile { get; init; }
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

    /// <summary>The console's form: JSON lines, a person's text lines, or (auto) text at a terminal outside a container.</summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Auto;

    /// <summary>
    /// The smallest context an LM Studio model is loaded with before a chat, generate or completion request is sent to it
    /// (capped at the model's maximum); 0 leaves loading to LM Studio, whose default of about 4096 tokens is too small for
    /// Copilot's agent mode.
    /// </summary>
    public int MinContextLength { get; init; } = 32768;

    /// <summary>
    /// How long an SSE answer may go without a byte to the client before the proxy writes a <c>: keep-alive</c> comment
    /// (while the model loads, processes the prompt, or pauses); Copilot aborts after 2 minutes without a first chunk or
    /// 60 seconds of silence. Zero turns heartbeats off.
    /// </summary>
    public TimeSpan StreamHeartbeat { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Turn tool calls a model wrote as text (<c>&lt;tool_call&gt;</c> blocks, bare JSON) into structured tool calls, in requests that offer tools.</summary>
    public bool ToolCallRepair { get; init; } = true;

    /// <summary>DATA_DIR: where the SQLite key database lives when no PostgreSQL server is named; null picks the default (docs/team.md).</summary>
    public string? DataDir { get; init; }

    /// <summary>DATABASE_URL: a PostgreSQL server for virtual keys, shared by every replica; wins over general_settings.database_url.</summary>
    public string? DatabaseUrl { get; init; }

    /// <summary>How long a request may wait in a deployment's fair queue before it is answered 429.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>OLLAMA_REQUIRE_KEY: the Ollama front door asks for a key too (Copilot's Ollama provider cannot send one).</summary>
    public bool OllamaRequireKey { get; init; }
    /// <summary>
    /// Take reasoning a model wrote into its answer text (<c>&lt;think&gt;</c>, <c>[THINK]</c>, harmony channels, …) out of it
    /// and send it as reasoning, for models without their own <c>model_info.reasoning_format</c>.
    /// </summary>
    public bool ReasoningTags { get; init; } = true;

    public bool DevMode { get; init; }
    public bool HotReload { get; init; }
    public bool DebugLogging { get; init; }

    /// <summary>Keep the last <see cref="CaptureLimit"/> requests' bodies in memory for the request inspector (redacted, images elided).</summary>
    public bool CaptureBodies { get; init; }

    public int CaptureLimit { get; init; } = 50;

    /// <summary>
    /// The standard <c>OTEL_*</c> variables the proxy was given (<see cref="SettingsLoader.OpenTelemetryNames"/>),
    /// handed to the OpenTelemetry SDK as they are; tracing is on when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is among them.
    /// </summary>
    public IReadOnlyDictionary<string, string> OpenTelemetry { get; init; } = new Dictionary<string, string>();

    public bool TracingEnabled => (OpenTelemetry.ContainsKey("OTEL_EXPORTER_OTLP_ENDPOINT") || OpenTelemetry.ContainsKey("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !string.Equals(OpenTelemetry.GetValueOrDefault("OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: prompts and completions go on span events (redacted).</summary>
    public bool TraceMessageContent => string.Equals(OpenTelemetry.GetValueOrDefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"), "true", StringComparison.OrdinalIgnoreCase);

    public IPAddress? BindAddress => Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? null : IPAddress.Parse(Host);
}

/// <summary>LOG_FORMAT.</summary>
public enum LogFormat
{
    Auto,
    Json,
    Text,
}
