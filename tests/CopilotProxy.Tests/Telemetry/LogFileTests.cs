using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Telemetry;

public sealed partial class LogFileTests : IDisposable
{
    private const string Key = "qwen/qwen3-8b";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task ManyRequests_FilesRollAtSizeCap_AndOnlyFileCountKept()
    {
        const long cap = 4096;
        await using (var proxy = await ProxyFixture.StartAsync(configure: s => s with
        {
            LogDir = _directory,
            LogFileSizeBytes = cap,
            LogFileCount = 3,
            LogLevel = LogLevel.Information,
        }))
        {
            for (var i = 0; i < 80; i++)
            {
                using var response = await proxy.Ollama.GetAsync("api/tags");
            }
        }

        var files = Directory.GetFiles(_directory);
        Assert.Equal(3, files.Length);
        // A file rolls once a write takes it to the cap, so it may exceed the cap by at most one line.
        var longestLine = files.SelectMany(File.ReadAllLines).Max(l => l.Length) + 1;
        Assert.All(files, f => Assert.InRange(new FileInfo(f).Length, 1, cap + longestLine));
        Assert.All(files, f => Assert.Matches(@"^copilot-proxy(_\d+)?\.log$", Path.GetFileName(f)));
        // Every line is one JSON object carrying the request line's fields.
        var lines = files.SelectMany(File.ReadAllLines).ToList();
        Assert.All(lines, l => Assert.StartsWith("{", l, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"Route\":\"/api/tags\"", StringComparison.Ordinal) && l.Contains("\"Status\":200", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Rolling_KeepsTheNewestLines_InNumberedFiles_AndAppendsAfterARestart(int maxFiles)
    {
        var settings = new ProxySettings { LogFileSizeBytes = 1024, LogFileCount = maxFiles };
        var next = 0;
        void LogLines(int count)
        {
            using var files = LogFiles.CreateProvider(settings, _directory);
            var logger = files.CreateLogger("Test");
            var padding = new string('x', 100);
            for (var i = 0; i < count; i++)
            {
                Line(logger, next++, padding);
            }
        }

        LogLines(40);
        LogLines(40);

        var names = Directory.GetFiles(_directory).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(maxFiles, names.Count);
        Assert.Contains(LogFiles.FileName, names);
        var numbers = Directory.GetFiles(_directory).Select(f => File.ReadAllLines(f).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("Number").GetInt32()).ToList()).ToList();
        // Nothing is lost inside what is kept: the newest line is there, and the kept lines run without a gap up to it.
        var kept = numbers.SelectMany(n => n).Order().ToList();
        Assert.Equal(next - 1, kept[^1]);
        Assert.Equal(Enumerable.Range(kept[0], kept.Count), kept);
        // The highest archive number is the newest archive.
        var archives = names.Where(n => n != LogFiles.FileName).ToList();
        if (archives.Count > 1)
        {
            var first = File.ReadAllLines(Path.Combine(_directory, archives[0])).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("Number").GetInt32()).Max();
            var last = File.ReadAllLines(Path.Combine(_directory, archives[^1])).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("Number").GetInt32()).Min();
            Assert.True(first < last);
        }
    }

    [Fact]
    public async Task DebugLogging_BodiesLogged_KeysAndAuthorizationRedacted()
    {
        const string bearer = "sk-live-0123456789abcdefXYZ";
        const string bodyKey = "hunter2-is-my-password";
        await using (var proxy = await ProxyFixture.StartAsync(configure: s => s with
        {
            LogDir = _directory,
            DebugLogging = true,
            LogLevel = LogLevel.Information,
            ApiKey = "configured-key-42",
        }))
        {
            proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(Key, "visible answer")));
            var json = CopilotRequests.Chat(Key)[..^1] + $",\"api_key\":\"{bodyKey}\",\"metadata\":{{\"note\":\"configured-key-42\"}}}}";
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
            using var response = await ProxyFixture.SendStreamingAsync(proxy.Ollama, request);
            Assert.Contains("visible", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var log = string.Concat(Directory.GetFiles(_directory).Select(File.ReadAllText));
        Assert.Contains("Weather in Paris?", log, StringComparison.Ordinal);
        Assert.Contains("visible", log, StringComparison.Ordinal);
        Assert.Contains("[redacted]", log, StringComparison.Ordinal);
        Assert.DoesNotContain(bearer, log, StringComparison.Ordinal);
        Assert.DoesNotContain(bodyKey, log, StringComparison.Ordinal);
        Assert.DoesNotContain("configured-key-42", log, StringComparison.Ordinal);
        // Token counts are not secrets.
        Assert.Contains("include_usage", log, StringComparison.Ordinal);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "line {Number} {Padding}")]
    private static partial void Line(ILogger logger, int number, string padding);

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
