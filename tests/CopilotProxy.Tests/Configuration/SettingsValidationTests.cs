using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Configuration;

public class SettingsValidationTests
{
    public static TheoryData<string, string, string> BadValues => new()
    {
        { "LMSTUDIO_URL", "localhost:1234", "expected an absolute http:// or https:// URL" },
        { "LMSTUDIO_URL", "ftp://host/", "Example: LMSTUDIO_URL=http://localhost:1234" },
        { "LITELLM_PORT", "70000", "expected a whole number from 1 to 65535. Example: LITELLM_PORT=4000" },
        { "OLLAMA_PORT", "abc", "expected a whole number from 1 to 65535. Example: OLLAMA_PORT=11434" },
        { "OLLAMA_ORIGINS", "http://localhost:3000,localhost:5173", "'localhost:5173' is not an origin" },
        { "OLLAMA_ORIGINS", "https://app.example/", "'https://app.example/' is not an origin" },
        { "HOST", "my-laptop", "expected an IP address to bind (127.0.0.1, 0.0.0.0, ::) or localhost. Example: HOST=0.0.0.0" },
        { "API_KEY_FILE", "/nonexistent/copilot-proxy-key", "expected a file the proxy can read, holding the gateway key on its first line" },
        { "LOG_LEVEL", "verbose", "expected one of TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL (any case). Example: LOG_LEVEL=INFO" },
        { "LOG_FORMAT", "pretty", "expected auto (text at a terminal, JSON lines otherwise), json or text. Example: LOG_FORMAT=json" },
        { "LOG_DIR", "/proc/copilot-proxy-logs", "expected a directory the proxy can create and write to" },
        { "LOG_MAX_FILE_MB", "0", "expected a whole number of megabytes from 1 to 1024. Example: LOG_MAX_FILE_MB=10" },
        { "LOG_MAX_FILES", "-3", "expected a whole number of files from 1 to 1000. Example: LOG_MAX_FILES=5" },
        { "HEALTH_CHECK_INTERVAL", "30s", "expected a whole number of seconds from 1 to 3600. Example: HEALTH_CHECK_INTERVAL=30" },
        { "GRACEFUL_SHUTDOWN_TIMEOUT", "-1", "expected a whole number of seconds from 0 to 3600. Example: GRACEFUL_SHUTDOWN_TIMEOUT=10" },
        { "MODEL_REFRESH_INTERVAL", "5m", "expected a whole number of seconds from 1 to 86400. Example: MODEL_REFRESH_INTERVAL=300" },
        { "UPSTREAM_TIMEOUT", "0", "expected a whole number of seconds from 1 to 86400. Example: UPSTREAM_TIMEOUT=600" },
        { "MAX_REQUEST_BODY_MB", "99999", "expected a whole number from 1 to 4096. Example: MAX_REQUEST_BODY_MB=64" },
        { "MIN_CONTEXT_LENGTH", "32k", "expected a whole number of tokens from 0 to 16777216. Example: MIN_CONTEXT_LENGTH=32768" },
        { "STREAM_HEARTBEAT_SECONDS", "601", "expected a whole number of seconds from 0 to 600. Example: STREAM_HEARTBEAT_SECONDS=10" },
        { "MAX_CONNECTIONS", "10", "expected a whole number of connections (or 0 for unlimited) from 32 to 1000000. Example: MAX_CONNECTIONS=1024" },
        { "OLLAMA_VERSION", "0.5.1", "expected a version MAJOR.MINOR.PATCH of at least 0.6.4" },
        { "DEV_MODE", "maybe", "expected true or false (also 1/0, yes/no, on/off, any case). Example: DEV_MODE=true" },
        { "HOT_RELOAD", "2", "expected true or false (also 1/0, yes/no, on/off, any case). Example: HOT_RELOAD=true" },
        { "TOOL_CALL_REPAIR", "sometimes", "expected true or false (also 1/0, yes/no, on/off, any case). Example: TOOL_CALL_REPAIR=true" },
        { "REASONING_TAGS", "maybe", "expected true or false (also 1/0, yes/no, on/off, any case). Example: REASONING_TAGS=true" },
        { "DEBUG_LOGGING", "enabled", "expected true or false (also 1/0, yes/no, on/off, any case). Example: DEBUG_LOGGING=true" },
        { "DATA_DIR", "data", "expected an absolute directory path for the key database. Example: DATA_DIR=/app/data" },
        { "DATABASE_URL", "mysql://root@db/keys", "expected postgresql://user:password@host:port/db" },
        { "QUEUE_TIMEOUT_SECONDS", "soon", "Example: QUEUE_TIMEOUT_SECONDS=" },
        { "OLLAMA_REQUIRE_KEY", "maybe", "expected true or false (also 1/0, yes/no, on/off, any case). Example: OLLAMA_REQUIRE_KEY=true" },
        { "CAPTURE_BODIES", "all", "expected true or false (also 1/0, yes/no, on/off, any case). Example: CAPTURE_BODIES=true" },
        { "CAPTURE_LIMIT", "0", "Example: CAPTURE_LIMIT=50" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void BadValue_OneMessageNamingVariableValueAndExample(string name, string value, string expected)
    {
        var result = SettingsLoader.Load(n => n == name ? value : null);

        Assert.Null(result.Settings);
        var message = Assert.Single(result.Errors);
        Assert.StartsWith($"{name}='{value}' is not valid: ", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.Contains($"Example: {name}=", message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryValidatedVariable_HasABadValueTest()
    {
        // Free-text settings accept anything; every other variable must appear in BadValues.
        string[] freeText = ["LMSTUDIO_API_KEY", "API_KEY", "CONFIG_FILE"];
        var tested = BadValues.Select(row => (string)row.Data.Item1).ToHashSet(StringComparer.Ordinal);
        var untested = SettingsLoader.VariableNames.Except(freeText).Where(n => !tested.Contains(n)).ToList();
        Assert.Empty(untested);
    }

    [Fact]
    public void SeveralBadValues_OneMessageEach()
    {
        var env = new Dictionary<string, string> { ["OLLAMA_PORT"] = "x", ["LOG_LEVEL"] = "loud", ["DEV_MODE"] = "perhaps" };
        var result = SettingsLoader.Load(n => env.GetValueOrDefault(n));

        Assert.Null(result.Settings);
        Assert.Equal(3, result.Errors.Count);
    }

    [Fact]
    public void SamePortTwice_Rejected()
    {
        var env = new Dictionary<string, string> { ["OLLAMA_PORT"] = "5000", ["LITELLM_PORT"] = "5000" };
        var error = Assert.Single(SettingsLoader.Load(n => env.GetValueOrDefault(n)).Errors);
        Assert.Contains("OLLAMA_PORT and LITELLM_PORT are both 5000", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("info", LogLevel.Information)]
    [InlineData("INFO", LogLevel.Information)]
    [InlineData("Warning", LogLevel.Warning)]
    [InlineData("debug", LogLevel.Debug)]
    public void LogLevel_AnyCase(string value, LogLevel expected) =>
        Assert.Equal(expected, SettingsLoader.Load(n => n == "LOG_LEVEL" ? value : null).Settings!.LogLevel);

    [Theory]
    [InlineData("true")]
    [InlineData("1")]
    [InlineData("yes")]
    [InlineData("ON")]
    public void Booleans_AcceptCommonSpellings(string value) =>
        Assert.True(SettingsLoader.Load(n => n == "DEBUG_LOGGING" ? value : null).Settings!.DebugLogging);

    [Fact]
    public void NothingSet_Defaults()
    {
        var settings = SettingsLoader.Load(_ => null).Settings!;
        Assert.Equal(new Uri("http://localhost:1234/"), settings.LmStudioUrl);
        Assert.Equal(4000, settings.GatewayPort);
        Assert.Equal(11434, settings.OllamaPort);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.GracefulShutdownTimeout);
        Assert.Equal(10L * 1024 * 1024, settings.LogFileSizeBytes);
        Assert.Equal(5, settings.LogFileCount);
        Assert.False(settings.HotReload);
    }

    [Fact]
    public void DevMode_TurnsOnHotReload() =>
        Assert.True(SettingsLoader.Load(n => n == "DEV_MODE" ? "true" : null).Settings!.HotReload);
}
