using System.Text;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Dashboard;
using CopilotProxy.Http;
using CopilotProxy.Telemetry;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace CopilotProxy.Tests.Telemetry;

/// <summary>The console's two forms: a person's line at a terminal, JSON lines for machines, chosen by LOG_FORMAT.</summary>
public sealed class ConsoleFormatTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "copilot-proxy-logs-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData(LogFormat.Auto, false, true, false, LogFormat.Text)]
    [InlineData(LogFormat.Auto, false, false, false, LogFormat.Json)]
    [InlineData(LogFormat.Auto, false, true, true, LogFormat.Json)]
    [InlineData(LogFormat.Auto, true, false, false, LogFormat.Text)]
    [InlineData(LogFormat.Json, true, true, false, LogFormat.Json)]
    [InlineData(LogFormat.Text, false, false, true, LogFormat.Text)]
    public void Format_FollowsTheSetting_ThenTheTerminal(LogFormat setting, bool devMode, bool terminal, bool container, LogFormat expected) =>
        Assert.Equal(expected, ConsoleFormats.Choose(setting, devMode, terminal, container));

    [Theory]
    [InlineData("json", LogFormat.Json)]
    [InlineData("TEXT", LogFormat.Text)]
    [InlineData(null, LogFormat.Auto)]
    public void LogFormatSetting_IsRead(string? value, LogFormat expected)
    {
        var result = SettingsLoader.Load(name => name == "LOG_FORMAT" ? value : null);
        Assert.Equal(expected, result.Settings!.LogFormat);
    }

    [Fact]
    public void LogFormatSetting_RejectsOtherValues_SayingWhatIsAllowed()
    {
        var result = SettingsLoader.Load(name => name == "LOG_FORMAT" ? "pretty" : null);
        Assert.Null(result.Settings);
        Assert.Contains(result.Errors, e => e.StartsWith("LOG_FORMAT='pretty' is not valid", StringComparison.Ordinal) && e.Contains("json", StringComparison.Ordinal));
    }

    [Fact]
    public void TextForm_RequestLine_IsOneCompactHumanLine()
    {
        var output = Capture(LogFormat.Text, "CopilotProxy.Requests", logger =>
            RequestLog.Completed(logger, LogLevel.Information, "Ollama", "POST", "/v1/chat/completions", "qwen3-8b", "qwen/qwen3-8b", 200, 380.5, 412.3, 38.2, 12_345.6, 1200, 460, "none", "none", "-", 0, "-", "-"));
        Assert.Matches(@"^\d\d:\d\d:\d\d POST /v1/chat/completions qwen3-8b 200 ttft 412 ms 38 tok/s 12\.3 s\r?\n$", output);
    }

    [Fact]
    public void TextForm_FailedRequest_SaysItsFailureClass_AndLeavesOutUnknownFigures()
    {
        var output = Capture(LogFormat.Text, "CopilotProxy.Requests", logger =>
            RequestLog.Completed(logger, LogLevel.Information, "OpenAI", "POST", "/v1/chat/completions", "qwen3-8b", "-", 502, 3.2, null, null, 3.4, null, null, "connect", "none", "-", 0, "-", "-"));
        Assert.Matches(@"^\d\d:\d\d:\d\d POST /v1/chat/completions qwen3-8b 502 3 ms failed: connect\r?\n$", output);
    }

    [Fact]
    public void TextForm_Warning_IsTimeLevelAndTheMessageAsWritten()
    {
        var output = Capture(LogFormat.Text, "CopilotProxy.Dashboard.ModelActions", logger =>
            DashboardLog.ActionFailed(logger, "load", "qwen/qwen3-8b", "LM Studio at http://127.0.0.1:1234/ can't load \"it\""));
        Assert.Matches(@"^\d\d:\d\d:\d\d warn  The dashboard's load of qwen/qwen3-8b failed: LM Studio at http://127\.0\.0\.1:1234/ can't load ""it""\r?\n$", output);
    }

    [Fact]
    public void JsonForm_CarriesEachFieldOnce_WithoutAStateCopy_AndUnescapedApostrophes()
    {
        var output = Capture(LogFormat.Json, "CopilotProxy.Dashboard.ModelActions", logger =>
            DashboardLog.ActionFailed(logger, "load", "qwen/qwen3-8b", "the model 'x' can't load"));

        Assert.DoesNotContain("\\u0027", output, StringComparison.Ordinal);
        Assert.Contains("the model 'x' can't load", output, StringComparison.Ordinal);
        var names = PropertyNames(output);
        Assert.Equal(names.Distinct(StringComparer.Ordinal).Count(), names.Count);
        Assert.DoesNotContain("State", names);
        Assert.Equal(["time", "level", "category", "event_id", "message", "Action", "Model", "Reason"], names);
        using var document = JsonDocument.Parse(output);
        Assert.Equal("Warning", document.RootElement.GetProperty("level").GetString());
        Assert.Equal("qwen/qwen3-8b", document.RootElement.GetProperty("Model").GetString());
    }

    [Fact]
    public void JsonForm_RequestLine_KeepsNumbersAsNumbers()
    {
        var output = Capture(LogFormat.Json, "CopilotProxy.Requests", logger =>
            RequestLog.Completed(logger, LogLevel.Information, "Ollama", "POST", "/api/embed", "nomic", "nomic-embed", 200, 5.5, null, null, 7.25, 12, null, "none", "none", "-", 0, "-", "-"));
        using var document = JsonDocument.Parse(output);
        var root = document.RootElement;
        Assert.Equal(200, root.GetProperty("Status").GetInt32());
        Assert.Equal(7.25, root.GetProperty("TotalMs").GetDouble());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("TimeToFirstTokenMs").ValueKind);
        Assert.Equal("nomic", root.GetProperty("ClientModel").GetString());
    }

    [Fact]
    public void RequestLine_WithoutFigures_LeavesThemOutOfTheMessage_AndKeepsEveryFieldAsNull()
    {
        var full = Capture(LogFormat.Json, "CopilotProxy.Requests", logger =>
            RequestLog.Completed(logger, LogLevel.Information, "OpenAI", "POST", "/v1/chat/completions", "qwen3-8b", "qwen/qwen3-8b", 200, 380.5, 412.3, 38.2, 12_345.6, 1200, 460, "none", "none", "-", 0, "-", "-"));
        var bare = Capture(LogFormat.Json, "CopilotProxy.Requests", logger =>
            RequestLog.Completed(logger, LogLevel.Information, "OpenAI", "POST", "/v1/chat/completions", "qwen3-8b", "qwen/qwen3-8b", 200, null, null, null, 12_345.6, null, null, "none", "none", "-", 0, "-", "-"));

        using var fullJson = JsonDocument.Parse(full);
        using var bareJson = JsonDocument.Parse(bare);
        var message = bareJson.RootElement.GetProperty("message").GetString()!;
        Assert.DoesNotMatch(@"(ttfb|ttft|tok/s|tokens)=", message);
        Assert.Contains("total=12345.6 ms", message, StringComparison.Ordinal);
        Assert.Contains("ttft=412.3 ms", fullJson.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("tokens=1200/460", fullJson.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(PropertyNames(full), PropertyNames(bare));
        foreach (var absent in (string[])["TimeToFirstByteMs", "TimeToFirstTokenMs", "TokensPerSecond", "PromptTokens", "CompletionTokens"])
        {
            Assert.Equal(JsonValueKind.Null, bareJson.RootElement.GetProperty(absent).ValueKind);
        }
    }

    [Fact]
    public async Task StreamWithoutUsage_IsLoggedWithoutEmptyFigures()
    {
        const string chat = "qwen/qwen3-8b";
        await using (var proxy = await ProxyFixture.StartAsync([FakeModel.Llm(chat)], configure: s => s with { LogDir = _directory, LogLevel = LogLevel.Information }))
        {
            proxy.Upstream.Enqueue(FakeResponse.Sse(LmStudioStreams.Text(chat, "Hello")));
            using var answer = await proxy.Gateway.PostAsync("v1/chat/completions", Json($$"""{"model":"{{chat}}","stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
            await answer.Content.ReadAsStringAsync();
            Assert.True(answer.IsSuccessStatusCode);
        }

        var line = Directory.GetFiles(_directory).SelectMany(File.ReadAllLines).Select(l => JsonDocument.Parse(l).RootElement)
            .Single(e => e.TryGetProperty("Route", out var route) && route.GetString() == "/v1/chat/completions");
        Assert.DoesNotContain("tokens=/", line.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("= ", line.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, line.GetProperty("PromptTokens").ValueKind);
    }

    /// <summary>Every request line names its model, the embedding and lifecycle routes included (they used to say model=-).</summary>
    [Fact]
    public async Task RequestLines_NameTheModel_ForEmbeddingsLoadsAndUnloads()
    {
        const string embed = "text-embedding-nomic-embed-text-v1.5";
        const string chat = "qwen/qwen3-8b";
        await using (var proxy = await ProxyFixture.StartAsync(
            [FakeModel.Llm(chat, loadedContextLength: null), FakeModel.Embedding(embed)],
            configure: s => s with { LogDir = _directory, LogLevel = LogLevel.Information }))
        {
            using var vectors = await proxy.Ollama.PostAsync("api/embed", Json($$"""{"model":"{{embed}}","input":"hello"}"""));
            Assert.True(vectors.IsSuccessStatusCode);
            using var load = await proxy.Ollama.PostAsync("api/generate", Json($$"""{"model":"{{chat}}:latest"}"""));
            Assert.True(load.IsSuccessStatusCode);
            using var unload = await proxy.Ollama.PostAsync("api/chat", Json($$"""{"model":"{{chat}}:latest","messages":[],"keep_alive":0}"""));
            Assert.True(unload.IsSuccessStatusCode);
            Assert.Equal(1, proxy.Upstream.CountOf("/api/v1/models/load"));
            Assert.Equal(1, proxy.Upstream.CountOf("/api/v1/models/unload"));
        }

        var lines = Directory.GetFiles(_directory).SelectMany(File.ReadAllLines)
            .Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.TryGetProperty("Route", out _)).ToList();
        string ModelOf(string route) => lines.Single(e => e.GetProperty("Route").GetString() == route).GetProperty("ClientModel").GetString()!;
        Assert.Equal(embed, ModelOf("/api/embed"));
        Assert.Equal(chat + ":latest", ModelOf("/api/generate"));
        Assert.Equal(chat + ":latest", ModelOf("/api/chat"));
        Assert.Equal(embed, lines.Single(e => e.GetProperty("Route").GetString() == "/api/embed").GetProperty("UpstreamModel").GetString());
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static List<string> PropertyNames(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        var names = new List<string>();
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
            {
                names.Add(reader.GetString()!);
            }
        }

        return names;
    }

    /// <summary>Runs a log call through the proxy's console sink, as the running proxy logs it, and returns what it wrote.</summary>
    private static string Capture(LogFormat format, string category, Action<ILogger> log)
    {
        var writer = new StringWriter();
        var console = new ConsoleLog(format, writer, colors: false);
        using (var factory = LoggerFactory.Create(b => b.AddProvider(console).SetMinimumLevel(LogLevel.Trace)))
        {
            log(factory.CreateLogger(category));
        }

        console.Dispose();
        return writer.ToString();
    }

    [Fact]
    public void ConsoleSink_WritesEveryLine_InOrder_EvenPastItsQueue_BeforeItCloses()
    {
        var output = Capture(LogFormat.Json, "CopilotProxy.Tests", logger =>
        {
            for (var i = 0; i < 5000; i++)
            {
                ConsoleSinkLog.Line(logger, i);
            }
        });
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5000, lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            using var json = JsonDocument.Parse(lines[i]);
            Assert.Equal(i, json.RootElement.GetProperty("Number").GetInt32());
        }
    }

    [Fact]
    public void ConsoleSink_WhoseOutputFails_DropsLines_AndLoggingGoesOn()
    {
        var console = new ConsoleLog(LogFormat.Text, new FailingWriter(), colors: false);
        using (var factory = LoggerFactory.Create(b => b.AddProvider(console)))
        {
            var logger = factory.CreateLogger("CopilotProxy.Tests");
            for (var i = 0; i < 2000; i++)
            {
                ConsoleSinkLog.StillServing(logger, i);
            }
        }

        console.Dispose();
    }

    [Fact]
    public void ConsoleSink_LinesLoggedAfterDispose_WhileTheDrainStillWrites_StayWhole()
    {
        // The writer thread is held on its first line until Dispose has given up waiting for it, so lines logged after
        // Dispose go out directly while it drains the queue: both write at once, one character at a time.
        var writer = new CharByCharWriter();
        var console = new ConsoleLog(LogFormat.Json, writer, colors: false);
        using var factory = LoggerFactory.Create(b => b.AddProvider(console));
        var logger = factory.CreateLogger("CopilotProxy.Tests");
        for (var i = 0; i < 100; i++)
        {
            ConsoleSinkLog.Line(logger, i);
        }

        console.Dispose();
        writer.Release.Set();
        for (var i = 100; i < 200; i++)
        {
            ConsoleSinkLog.Line(logger, i);
        }

        // Only lines that end in a newline are whole: the 200th may still be going out one character at a time.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string text;
        while ((text = writer.ToString()).Count(c => c == '\n') < 200 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200, lines.Length);
        var numbers = lines.Select(line =>
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.GetProperty("Number").GetInt32();
        }).Order();
        Assert.Equal(Enumerable.Range(0, 200), numbers);
    }

    /// <summary>A writer that is not synchronized and writes slowly, so two threads writing at once would split each other's lines.</summary>
    private sealed class CharByCharWriter : TextWriter
    {
        private readonly StringBuilder _text = new();

        public ManualResetEventSlim Release { get; } = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(string? value)
        {
            Release.Wait();
            foreach (var c in value ?? string.Empty)
            {
                lock (_text)
                {
                    _text.Append(c);
                }

                Thread.Yield();
            }
        }

        public override string ToString()
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    private sealed class FailingWriter : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(string? value) => throw new IOException("Broken pipe");
    }
}

internal static partial class ConsoleSinkLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "line {Number}")]
    public static partial void Line(ILogger logger, int number);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "still serving {Number}")]
    public static partial void StillServing(ILogger logger, int number);
}
