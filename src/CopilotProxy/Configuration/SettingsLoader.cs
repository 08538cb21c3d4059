using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Configuration;

/// <summary>
/// Turns environment variables into <see cref="ProxySettings"/>, collecting one message per bad value so a user fixes
/// everything in one go instead of one restart per typo.
/// </summary>
public static class SettingsLoader
{
    /// <summary>Every variable the proxy reads, in the order the docs list them.</summary>
    public static readonly IReadOnlyList<string> VariableNames =
    [
        "LMSTUDIO_URL", "LMSTUDIO_API_KEY", "LITELLM_PORT", "OLLAMA_PORT", "HOST", "OLLAMA_ORIGINS", "API_KEY", "API_KEY_FILE", "CONFIG_FILE", "LOG_LEVEL", "LOG_FORMAT", "LOG_DIR", "LOG_MAX_FILE_MB", "LOG_MAX_FILES",
        "HEALTH_CHECK_INTERVAL", "GRACEFUL_SHUTDOWN_TIMEOUT", "MODEL_REFRESH_INTERVAL", "UPSTREAM_TIMEOUT", "MAX_REQUEST_BODY_MB", "MAX_CONNECTIONS",
        "MIN_CONTEXT_LENGTH", "STREAM_HEARTBEAT_SECONDS", "OLLAMA_VERSION", "TOOL_CALL_REPAIR", "REASONING_TAGS", "DEV_MODE", "HOT_RELOAD", "DEBUG_LOGGING",
        "DATA_DIR", "DATABASE_URL", "QUEUE_TIMEOUT_SECONDS", "OLLAMA_REQUIRE_KEY",
        "CAPTURE_BODIES", "CAPTURE_LIMIT",
    ];

    /// <summary>
    /// The standard OpenTelemetry variables passed to the SDK (docs/observability.md); the SDK validates them itself.
    /// Read through the same lookup as the proxy's own, so config.yaml's <c>environment_variables:</c> can set them too.
    /// </summary>
    public static readonly IReadOnlyList<string> OpenTelemetryNames =
    [
        "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    ];

    /// <summary>
    /// The variables as the proxy sees them: the process environment first, then config.yaml's <c>environment_variables:</c>,
    /// so a container can override the file without editing it.
    /// </summary>
    public static Func<string, string?> EnvironmentFirst(Func<string, string?> environment, IReadOnlyDictionary<string, string> fileVariables) =>
        name => environment(name) is { Length: > 0 } value && !string.IsNullOrWhiteSpace(value) ? value : fileVariables.GetValueOrDefault(name);

    public static SettingsResult Load(Func<string, string?> env)
    {
        var errors = new List<string>();
        var defaults = new ProxySettings();

        string? Get(string name)
        {
            var value = env(name);
            return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        }

        var devMode = ParseBool("DEV_MODE", Get("DEV_MODE"), false, errors);
        var settings = defaults with
        {
            LmStudioUrl = ParseUpstreamUrl(Get("LMSTUDIO_URL"), defaults.LmStudioUrl, errors),
            LmStudioApiKey = Get("LMSTUDIO_API_KEY"),
            GatewayPort = ParsePort("LITELLM_PORT", Get("LITELLM_PORT"), defaults.GatewayPort, errors),
            OllamaPort = ParsePort("OLLAMA_PORT", Get("OLLAMA_PORT"), defaults.OllamaPort, errors),
            Host = ParseHost(Get("HOST"), defaults.Host, errors),
            OllamaOrigins = ParseOrigins(Get("OLLAMA_ORIGINS"), errors),
            ApiKey = ReadApiKey(Get("API_KEY"), Get("API_KEY_FILE"), env, errors, out var keyFile),
            ApiKeyFile = keyFile,
            ConfigFile = Get("CONFIG_FILE"),
            LogLevel = ParseLogLevel(Get("LOG_LEVEL"), defaults.LogLevel, errors),
            LogFormat = ParseLogFormat(Get("LOG_FORMAT"), errors),
            LogDir = ParseLogDir(Get("LOG_DIR"), errors),
            LogFileSizeBytes = ParseInt("LOG_MAX_FILE_MB", Get("LOG_MAX_FILE_MB"), 10, 1, 1024, "10", errors, " of megabytes") * 1024L * 1024,
            LogFileCount = ParseInt("LOG_MAX_FILES", Get("LOG_MAX_FILES"), defaults.LogFileCount, 1, 1000, "5", errors, " of files"),
            HealthCheckInterval = ParseSeconds("HEALTH_CHECK_INTERVAL", Get("HEALTH_CHECK_INTERVAL"), defaults.HealthCheckInterval, 1, 3600, errors),
            GracefulShutdownTimeout = ParseSeconds("GRACEFUL_SHUTDOWN_TIMEOUT", Get("GRACEFUL_SHUTDOWN_TIMEOUT"), defaults.GracefulShutdownTimeout, 0, 3600, errors),
            ModelRefreshInterval = ParseSeconds("MODEL_REFRESH_INTERVAL", Get("MODEL_REFRESH_INTERVAL"), defaults.ModelRefreshInterval, 1, 86400, errors),
            UpstreamIdleTimeout = ParseSeconds("UPSTREAM_TIMEOUT", Get("UPSTREAM_TIMEOUT"), defaults.UpstreamIdleTimeout, 1, 86400, errors),
            MaxRequestBodyBytes = ParseInt("MAX_REQUEST_BODY_MB", Get("MAX_REQUEST_BODY_MB"), 64, 1, 4096, "64", errors) * 1024L * 1024,
            MinContextLength = ParseInt("MIN_CONTEXT_LENGTH", Get("MIN_CONTEXT_LENGTH"), defaults.MinContextLength, 0, 16 * 1024 * 1024, "32768", errors, " of tokens"),
            StreamHeartbeat = ParseSeconds("STREAM_HEARTBEAT_SECONDS", Get("STREAM_HEARTBEAT_SECONDS"), defaults.StreamHeartbeat, 0, 600, errors),
            MaxConnections = ParseMaxConnections(Get("MAX_CONNECTIONS"), errors),
            OllamaVersion = ParseVersion(Get("OLLAMA_VERSION"), defaults.OllamaVersion, errors),
            ToolCallRepair = ParseBool("TOOL_CALL_REPAIR", Get("TOOL_CALL_REPAIR"), defaults.ToolCallRepair, errors),
            ReasoningTags = ParseBool("REASONING_TAGS", Get("REASONING_TAGS"), defaults.ReasoningTags, errors),
            DevMode = devMode,
            HotReload = ParseBool("HOT_RELOAD", Get("HOT_RELOAD"), devMode, errors),
            DebugLogging = ParseBool("DEBUG_LOGGING", Get("DEBUG_LOGGING"), false, errors),
            DataDir = ParseDataDir(Get("DATA_DIR"), errors),
            DatabaseUrl = ParseDatabaseUrl(Get("DATABASE_URL"), errors),
            QueueTimeout = ParseSeconds("QUEUE_TIMEOUT_SECONDS", Get("QUEUE_TIMEOUT_SECONDS"), defaults.QueueTimeout, 1, 86400, errors),
            OllamaRequireKey = ParseBool("OLLAMA_REQUIRE_KEY", Get("OLLAMA_REQUIRE_KEY"), false, errors),
            CaptureBodies = ParseBool("CAPTURE_BODIES", Get("CAPTURE_BODIES"), devMode, errors),
            CaptureLimit = ParseInt("CAPTURE_LIMIT", Get("CAPTURE_LIMIT"), defaults.CaptureLimit, 1, 10_000, "50", errors, " of requests"),
            OpenTelemetry = OpenTelemetryNames.Select(name => (name, value: Get(name))).Where(v => v.value is not null)
                .ToDictionary(v => v.name, v => v.value!, StringComparer.Ordinal),
        };

        if (errors.Count == 0 && settings.OllamaPort == settings.GatewayPort)
        {
            errors.Add($"OLLAMA_PORT and LITELLM_PORT are both {settings.OllamaPort}: the two front doors need different ports. Example: OLLAMA_PORT=11434 LITELLM_PORT=4000");
        }

        return new SettingsResult(errors.Count == 0 ? settings : null, errors);
    }

    private static Uri ParseUpstreamUrl(string? value, Uri fallback, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"LMSTUDIO_URL='{value}' is not valid: expected an absolute http:// or https:// URL of LM Studio's server. Example: LMSTUDIO_URL=http://localhost:1234");
            return fallback;
        }

        // People paste the OpenAI base URL LM Studio shows (".../v1"); the proxy adds /v1 and /api/v1 itself.
        var path = uri.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/v1", StringComparison.OrdinalIgnoreCase))
        {
            path = path[..^3];
        }

        return new UriBuilder(uri) { Path = path + "/" }.Uri;
    }

    /// <summary>
    /// API_KEY, else the first line of API_KEY_FILE, else of <c>api-key</c> in the user's settings folder when that file exists
    /// (where <c>service install</c> puts it, so the key is never on a command line or in a unit file).
    /// </summary>
    private static string? ReadApiKey(string? key, string? file, Func<string, string?> env, List<string> errors, out string? source)
    {
        source = null;
        if (key is not null && file is not null)
        {
            errors.Add("API_KEY and API_KEY_FILE are both set: set only one (API_KEY_FILE keeps the key off the command line and out of the environment of every child process). Example: API_KEY_FILE=/home/you/.config/copilot-proxy/api-key");
            return key;
        }

        if (key is not null)
        {
            return key;
        }

        var path = file ?? (SettingsFolder.Resolve(SettingsFolder.CurrentPlatform, env) is { } folder ? Path.Combine(folder, SettingsFolder.KeyFileName) : null);
        if (path is null || (file is null && !File.Exists(path)))
        {
            return null;
        }

        string? line;
        try
        {
            line = File.ReadLines(path).FirstOrDefault()?.Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            errors.Add($"API_KEY_FILE='{path}' is not valid: expected a file the proxy can read, holding the gateway key on its first line ({ex.Message}). Example: API_KEY_FILE=/home/you/.config/copilot-proxy/api-key");
            return null;
        }

        if (string.IsNullOrEmpty(line))
        {
            errors.Add($"API_KEY_FILE='{path}' is not valid: expected the gateway key on the file's first line, found nothing. Write the key into it, or delete the file to run without a key.");
            return null;
        }

        source = path;
        return line;
    }

    /// <summary>0 means unlimited, as Kestrel's own null does; below 32 a single IDE window's parallel requests could be refused.</summary>
    private static int? ParseMaxConnections(string? value, List<string> errors)
    {
        if (value is "0")
        {
            return null;
        }

        return ParseInt("MAX_CONNECTIONS", value, 1024, 32, 1_000_000, "1024", errors, " of connections (or 0 for unlimited)");
    }

    private static int ParsePort(string name, string? value, int fallback, List<string> errors) =>
        ParseInt(name, value, fallback, 1, 65535, fallback.ToString(CultureInfo.InvariantCulture), errors);

    private static int ParseInt(string name, string? value, int fallback, int min, int max, string example, List<string> errors, string unit = "")
    {
        if (value is null)
        {
            return fallback;
        }

        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) && parsed >= min && parsed <= max)
        {
            return parsed;
        }

        errors.Add($"{name}='{value}' is not valid: expected a whole number{unit} from {min} to {max}. Example: {name}={example}");
        return fallback;
    }

    private static TimeSpan ParseSeconds(string name, string? value, TimeSpan fallback, int min, int max, List<string> errors)
    {
        var fallbackSeconds = (int)fallback.TotalSeconds;
        var example = fallbackSeconds.ToString(CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ParseInt(name, value, fallbackSeconds, min, max, example, errors, " of seconds"));
    }

    private static string ParseHost(string? value, string fallback, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        if (value.Equals("localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(value, out _))
        {
            return value;
        }

        errors.Add($"HOST='{value}' is not valid: expected an IP address to bind (127.0.0.1, 0.0.0.0, ::) or localhost. Example: HOST=0.0.0.0");
        return fallback;
    }

    /// <summary>Ollama's own variable and syntax: a comma-separated list, quotes around the whole value allowed.</summary>
    private static string[] ParseOrigins(string? value, List<string> errors)
    {
        if (value is null)
        {
            return [];
        }

        var origins = OllamaVariables.Clean(value).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var origin in origins)
        {
            if (origin != "*" && (origin.IndexOf("://", StringComparison.Ordinal) <= 0 || origin.EndsWith('/')))
            {
                errors.Add($"OLLAMA_ORIGINS='{value}' is not valid: '{origin}' is not an origin. Expected a comma-separated list of scheme://host[:port] with no path, * as a wildcard in any of them, or * alone for every site. Example: OLLAMA_ORIGINS=http://192.168.1.20:3000,chrome-extension://*");
                return [];
            }
        }

        return origins;
    }

    /// <summary>Checked now rather than at the first log line: a file sink that can't write drops lines silently.</summary>
    private static string? ParseLogDir(string? value, List<string> errors)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            Directory.CreateDirectory(value);
            var probe = Path.Combine(value, $".copilot-proxy-write-test-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return value;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            errors.Add($"LOG_DIR='{value}' is not valid: expected a directory the proxy can create and write to ({ex.Message}). Example: LOG_DIR=/app/logs (in the container, mount a writable volume there)");
            return null;
        }
    }

    /// <summary>Created when the key database opens (only when a master key is set), so an unused default never appears on disk.</summary>
    private static string? ParseDataDir(string? value, List<string> errors)
    {
        if (value is null || Path.IsPathFullyQualified(value))
        {
            return value;
        }

        errors.Add($"DATA_DIR='{value}' is not valid: expected an absolute directory path for the key database. Example: DATA_DIR=/app/data");
        return null;
    }

    private static string? ParseDatabaseUrl(string? value, List<string> errors)
    {
        if (value is null || DatabaseUrl.ToConnectionString(value, out var error) is not null)
        {
            return value;
        }

        errors.Add($"DATABASE_URL='{value}' is not valid: {error}; expected postgresql://user:password@host:port/db or Host=…;Username=…;Password=…;Database=…. Example: DATABASE_URL={DatabaseUrl.Example}");
        return null;
    }

    private static LogFormat ParseLogFormat(string? value, List<string> errors)
    {
        switch (value?.ToUpperInvariant())
        {
            case null or "AUTO": return LogFormat.Auto;
            case "JSON": return LogFormat.Json;
            case "TEXT": return LogFormat.Text;
            default:
                errors.Add($"LOG_FORMAT='{value}' is not valid: expected auto (text at a terminal, JSON lines otherwise), json or text. Example: LOG_FORMAT=json");
                return LogFormat.Auto;
        }
    }

    private static LogLevel ParseLogLevel(string? value, LogLevel fallback, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        switch (value.ToUpperInvariant())
        {
            case "TRACE": return LogLevel.Trace;
            case "DEBUG": return LogLevel.Debug;
            case "INFO" or "INFORMATION": return LogLevel.Information;
            case "WARN" or "WARNING": return LogLevel.Warning;
            case "ERROR": return LogLevel.Error;
            case "CRITICAL" or "FATAL": return LogLevel.Critical;
            default:
                errors.Add($"LOG_LEVEL='{value}' is not valid: expected one of TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL (any case). Example: LOG_LEVEL=INFO");
                return fallback;
        }
    }

    private static bool ParseBool(string name, string? value, bool fallback, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        switch (value.ToUpperInvariant())
        {
            case "TRUE" or "1" or "YES" or "Y" or "ON": return true;
            case "FALSE" or "0" or "NO" or "N" or "OFF": return false;
            default:
                errors.Add($"{name}='{value}' is not valid: expected true or false (also 1/0, yes/no, on/off, any case). Example: {name}=true");
                return fallback;
        }
    }

    private static string ParseVersion(string? value, string fallback, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        // Copilot splits on '.' and compares numerically with 0.6.4; "0.0.0" is its escape hatch for dev builds.
        var parts = value.Split('.');
        var numeric = parts.Length == 3 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        if (numeric && (value == "0.0.0" || new Version(value) >= new Version(0, 6, 4)))
        {
            return value;
        }

        errors.Add($"OLLAMA_VERSION='{value}' is not valid: expected a version MAJOR.MINOR.PATCH of at least 0.6.4 (VS Code Copilot refuses older ones). Example: OLLAMA_VERSION={fallback}");
        return fallback;
    }
}

/// <summary>Either settings or the reasons there are none.</summary>
public sealed record SettingsResult(ProxySettings? Settings, IReadOnlyList<string> Errors);
