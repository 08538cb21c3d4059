using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using CopilotProxy.Bench.FakeUpstream;

// A deliberately cheap stand-in for LM Studio: every response body is pre-encoded so the fake upstream
// spends its CPU on sockets, not on JSON, and cannot become the bottleneck it is meant to measure against.
var port = ReadInt("FAKE_PORT", 1234);
var settings = new StreamSettings(ReadInt("FAKE_TOKENS", 32), ReadInt("FAKE_DELAY_MS", 0));

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(o =>
{
    o.AddServerHeader = false;
    o.Limits.MaxConcurrentConnections = null;
    o.Listen(IPAddress.Loopback, port);
});
var app = builder.Build();

app.MapGet("/api/v1/models", ctx => WriteJson(ctx, Payloads.NativeModels));
app.MapGet("/api/v0/models", ctx => WriteJson(ctx, Payloads.V0Models));
app.MapGet("/v1/models", ctx => WriteJson(ctx, Payloads.OpenAIModels));
app.MapPost("/v1/chat/completions", ctx => ChatCompletions(ctx, settings));

// The load client switches the stream shape between phases here, because the proxy need not forward
// query strings or unknown body fields to the upstream.
app.MapPost("/_bench/config", ctx =>
{
    settings.Update(
        ParseOr(ctx.Request.Query["tokens"], settings.Tokens),
        ParseOr(ctx.Request.Query["delay_ms"], settings.DelayMs),
        ParseOr(ctx.Request.Query["whole"], 0) == 1);
    ctx.Response.ContentType = "text/plain";
    return ctx.Response.WriteAsync(
        string.Create(CultureInfo.InvariantCulture, $"tokens={settings.Tokens} delay_ms={settings.DelayMs} whole={settings.Whole}\n"));
});

app.Run();

static async Task ChatCompletions(HttpContext ctx, StreamSettings settings)
{
    var (stream, includeUsage) = await ReadRequestFlags(ctx.Request);
    var tokens = ParseOr(ctx.Request.Query["tokens"], settings.Tokens);
    var delayMs = ParseOr(ctx.Request.Query["delay_ms"], settings.DelayMs);
    var aborted = ctx.RequestAborted;

    if (!stream)
    {
        if (delayMs > 0)
        {
            await Task.Delay(delayMs, aborted);
        }

        await WriteJson(ctx, Payloads.Completion(tokens));
        return;
    }

    ctx.Response.ContentType = "text/event-stream";
    ctx.Response.Headers.CacheControl = "no-cache";
    var writer = ctx.Response.BodyWriter;
    try
    {
        if (settings.Whole && delayMs == 0)
        {
            for (var i = 0; i < tokens; i++)
            {
                writer.Write(Payloads.TokenEvent);
            }

            writer.Write(Payloads.FinishEvent);
            if (includeUsage)
            {
                writer.Write(Payloads.UsageEvent(tokens));
            }

            writer.Write(Payloads.DoneEvent);
            await writer.FlushAsync(aborted);
            return;
        }

        for (var i = 0; i < tokens; i++)
        {
            if (delayMs > 0)
            {
                await Task.Delay(delayMs, aborted);
            }

            // One write and flush per token, like a model server. With no delay Kestrel may coalesce flushes into one
            // send when the socket is busy, exactly as a real upstream's would be under load.
            await writer.WriteAsync(Payloads.TokenEvent, aborted);
        }

        await writer.WriteAsync(Payloads.FinishEvent, aborted);
        if (includeUsage)
        {
            await writer.WriteAsync(Payloads.UsageEvent(tokens), aborted);
        }

        await writer.WriteAsync(Payloads.DoneEvent, aborted);
    }
    catch (OperationCanceledException) when (aborted.IsCancellationRequested)
    {
        // The client (or the proxy in front) went away; nothing is left to tell it.
    }
}

static async Task<(bool Stream, bool IncludeUsage)> ReadRequestFlags(HttpRequest request)
{
    var reader = request.BodyReader;
    while (true)
    {
        var result = await reader.ReadAsync();
        if (result.IsCompleted)
        {
            var flags = ScanFlags(result.Buffer);
            reader.AdvanceTo(result.Buffer.End);
            return flags;
        }

        reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
    }
}

// Only the top-level "stream" and "stream_options.include_usage" matter; skip everything else.
static (bool Stream, bool IncludeUsage) ScanFlags(ReadOnlySequence<byte> body)
{
    var json = new Utf8JsonReader(body);
    bool stream = false, includeUsage = false;
    try
    {
        while (json.Read())
        {
            if (json.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (json.CurrentDepth == 1 && json.ValueTextEquals("stream"u8))
            {
                json.Read();
                stream = json.TokenType == JsonTokenType.True;
            }
            else if (json.CurrentDepth == 2 && json.ValueTextEquals("include_usage"u8))
            {
                json.Read();
                includeUsage = json.TokenType == JsonTokenType.True;
            }
        }
    }
    catch (JsonException)
    {
        // A malformed body is answered like a non-streaming request; the benchmark never sends one.
    }

    return (stream, includeUsage);
}

static Task WriteJson(HttpContext ctx, byte[] body)
{
    ctx.Response.ContentType = "application/json";
    ctx.Response.ContentLength = body.Length;
    return ctx.Response.Body.WriteAsync(body).AsTask();
}

static int ParseOr(string? text, int fallback) =>
    int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0 ? value : fallback;

static int ReadInt(string name, int fallback) => ParseOr(Environment.GetEnvironmentVariable(name), fallback);

namespace CopilotProxy.Bench.FakeUpstream
{
    internal sealed class StreamSettings(int tokens, int delayMs)
    {
        private volatile int _tokens = tokens;
        private volatile int _delayMs = delayMs;
        private volatile bool _whole;

        public int Tokens => _tokens;

        public int DelayMs => _delayMs;

        /// <summary>The whole stream in one write and one flush, as a fast upstream's buffered answer reaches the proxy in one read.</summary>
        public bool Whole => _whole;

        public void Update(int tokens, int delayMs, bool whole)
        {
            _tokens = tokens;
            _delayMs = delayMs;
            _whole = whole;
        }
    }

    internal static class Payloads
    {
        private const string Model = "bench-model";
        private const string ChunkHead =
            "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"" + Model
            + "\",\"system_fingerprint\":\"" + Model + "\",\"choices\":[";

        private static readonly Lock CompletionLock = new();
        private static (int Tokens, byte[] Body) _completion = (-1, []);

        public static readonly byte[] NativeModels = Encoding.UTF8.GetBytes(
            "{\"models\":[{\"type\":\"llm\",\"publisher\":\"bench\",\"key\":\"" + Model + "\",\"display_name\":\"Bench\","
            + "\"architecture\":\"qwen3\",\"quantization\":{\"name\":\"Q4_K_M\",\"bits_per_weight\":4.8},"
            + "\"size_bytes\":1000,\"params_string\":\"8B\",\"loaded_instances\":[{\"id\":\"" + Model + "\","
            + "\"config\":{\"context_length\":32768}}],\"max_context_length\":32768,\"format\":\"gguf\","
            + "\"capabilities\":{\"vision\":false,\"trained_for_tool_use\":true}}]}");

        public static readonly byte[] V0Models = Encoding.UTF8.GetBytes(
            "{\"object\":\"list\",\"data\":[{\"id\":\"" + Model + "\",\"object\":\"model\",\"type\":\"llm\","
            + "\"publisher\":\"bench\",\"arch\":\"qwen3\",\"compatibility_type\":\"gguf\",\"quantization\":\"Q4_K_M\","
            + "\"state\":\"loaded\",\"max_context_length\":32768,\"loaded_context_length\":32768,"
            + "\"capabilities\":[\"tool_use\"]}]}");

        public static readonly byte[] OpenAIModels = Encoding.UTF8.GetBytes(
            "{\"object\":\"list\",\"data\":[{\"id\":\"" + Model + "\",\"object\":\"model\",\"owned_by\":\"bench\"}]}");

        // LM Studio repeats role:"assistant" in every delta, so the fake does too.
        public static readonly byte[] TokenEvent = Encoding.UTF8.GetBytes(
            "data: " + ChunkHead
            + "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\" tok\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");

        public static readonly byte[] FinishEvent = Encoding.UTF8.GetBytes(
            "data: " + ChunkHead + "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n");

        public static readonly byte[] DoneEvent = "data: [DONE]\n\n"u8.ToArray();

        public static byte[] UsageEvent(int tokens) => Encoding.UTF8.GetBytes(
            "data: " + ChunkHead + "],\"usage\":" + Usage(tokens) + "}\n\n");

        public static byte[] Completion(int tokens)
        {
            lock (CompletionLock)
            {
                if (_completion.Tokens != tokens)
                {
                    var content = new StringBuilder(tokens * 4);
                    for (var i = 0; i < tokens; i++)
                    {
                        content.Append(" tok");
                    }

                    _completion = (tokens, Encoding.UTF8.GetBytes(
                        "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"" + Model
                        + "\",\"system_fingerprint\":\"" + Model + "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                        + "\"content\":\"" + content + "\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
                        + Usage(tokens) + "}"));
                }

                return _completion.Body;
            }
        }

        private static string Usage(int tokens) => string.Create(
            CultureInfo.InvariantCulture,
            $"{{\"prompt_tokens\":12,\"completion_tokens\":{tokens},\"total_tokens\":{tokens + 12}}}");
    }
}
