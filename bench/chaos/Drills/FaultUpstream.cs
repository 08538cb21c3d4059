using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;

namespace CopilotProxy.Bench.Drills;

/// <summary>
/// A fake LM Studio on loopback whose models misbehave on purpose: the model named in a request picks the fault, so
/// drills can run side by side against one proxy. It counts its open connections and in-flight requests, which is how
/// the drills see an upstream connection the proxy leaked.
/// </summary>
internal sealed class FaultUpstream : IAsyncDisposable
{
    /// <summary>Every model the catalog lists; each but chaos-ok and chaos-slow is one fault.</summary>
    public static readonly string[] Models =
    [
        "chaos-ok", "chaos-slow", "chaos-hang", "chaos-stall", "chaos-reset", "chaos-badutf8", "chaos-bigline", "chaos-nonjson",
        "chaos-html", "chaos-endless",
    ];

    private const string ChunkHead = "{\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"chaos\",\"choices\":[";
    private static readonly byte[] FinishEvent = Event("{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
    private static readonly byte[] UsageTail = Encoding.UTF8.GetBytes("data: " + ChunkHead + "],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":8,\"total_tokens\":20}}\n\n");
    private static readonly byte[] DoneEvent = "data: [DONE]\n\n"u8.ToArray();

    private readonly WebApplication _app;
    private int _openConnections;
    private int _inFlight;
    private int _endlessInFlight;

    private FaultUpstream(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>TCP connections from the proxy that are open right now (pooled idle ones included).</summary>
    public int OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>Requests whose handler has not returned: the proxy still holds them.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public int EndlessInFlight => Volatile.Read(ref _endlessInFlight);

    /// <summary>Tokens per chaos-ok stream and the pause before each; the soak sets them.</summary>
    public int Tokens { get; set; } = 8;

    public int DelayMs { get; set; }

    public static async Task<FaultUpstream> StartAsync()
    {
        var port = Ports.Free();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        FaultUpstream? self = null;
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.AddServerHeader = false;
            o.Limits.MaxConcurrentConnections = null;
            o.Limits.MinResponseDataRate = null;
            o.Listen(IPAddress.Loopback, port, listen => listen.Use(next => async connection =>
            {
                Interlocked.Increment(ref self!._openConnections);
                try
                {
                    await next(connection);
                }
                finally
                {
                    Interlocked.Decrement(ref self._openConnections);
                }
            }));
        });
        var app = builder.Build();
        self = new FaultUpstream(app, port);
        app.MapGet("/api/v1/models", ctx => WriteJson(ctx, NativeModels()));
        app.MapGet("/api/v0/models", ctx => WriteJson(ctx, V0Models()));
        app.MapGet("/v1/models", ctx => WriteJson(ctx, OpenAIModels()));
        app.MapPost("/v1/chat/completions", self.CompletionsAsync);
        app.MapPost("/v1/completions", self.CompletionsAsync);
        await app.StartAsync();
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(TimeSpan.FromSeconds(2));
        await _app.DisposeAsync();
    }

    private async Task CompletionsAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            using var body = await JsonDocument.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted);
            var model = body.RootElement.TryGetProperty("model", out var m) ? m.GetString() ?? "" : "";
            var stream = body.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            await AnswerAsync(ctx, model, stream);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The proxy let go of this request: what the drills want to see.
        }
        catch (IOException)
        {
            // Same, seen from a write.
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task AnswerAsync(HttpContext ctx, string model, bool stream)
    {
        var aborted = ctx.RequestAborted;
        var writer = ctx.Response.BodyWriter;
        switch (model)
        {
            case "chaos-hang":
                // Accepted, read, never answered: not even headers.
                await Task.Delay(Timeout.Infinite, aborted);
                return;
            case "chaos-html":
                // A reverse proxy's error page, with the wrong status.
                ctx.Response.ContentType = "text/html";
                await ctx.Response.WriteAsync("<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>", aborted);
                return;
        }

        if (!stream)
        {
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(
                "{\"id\":\"chatcmpl-chaos\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"chaos\",\"choices\":[{\"index\":0,"
                + "\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                + "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":1,\"total_tokens\":13}}", aborted);
            return;
        }

        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        switch (model)
        {
            case "chaos-ok":
            case "chaos-slow":
                var delay = model == "chaos-slow" ? 100 : DelayMs;
                var tokens = model == "chaos-slow" ? 20 : Tokens;
                for (var i = 0; i < tokens; i++)
                {
                    if (delay > 0)
                    {
                        await Task.Delay(delay, aborted);
                    }

                    await writer.WriteAsync(Token(" tok"), aborted);
                }

                break;
            case "chaos-stall":
                await writer.WriteAsync(Token("Hello"), aborted);
                await Task.Delay(Timeout.Infinite, aborted);
                return;
            case "chaos-reset":
                await writer.WriteAsync(Token("Hello"), aborted);
                // Half an event, then the connection is torn down under it.
                await writer.WriteAsync(Encoding.UTF8.GetBytes("data: " + ChunkHead + "{\"index\":0,\"delta\":{\"content\":\" wor"), aborted);
                await Task.Delay(50, aborted);
                ctx.Abort();
                return;
            case "chaos-badutf8":
                await writer.WriteAsync(Token("Hello"), aborted);
                // 0xC3 starts a two-byte sequence that '(' cannot continue; 0xFF never occurs in UTF-8.
                var bad = new List<byte>(Encoding.UTF8.GetBytes("data: " + ChunkHead + "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"bad "));
                bad.AddRange([0xC3, 0x28, 0xFF]);
                bad.AddRange(Encoding.UTF8.GetBytes(" bytes\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"));
                await writer.WriteAsync(bad.ToArray(), aborted);
                break;
            case "chaos-bigline":
                // One 10 MB event on one line, as a model that returns a huge tool argument might.
                await writer.WriteAsync(Token(new string('x', 10 * 1024 * 1024)), aborted);
                break;
            case "chaos-nonjson":
                await writer.WriteAsync(Token("Hello"), aborted);
                await writer.WriteAsync("data: upstream exploded, this is not JSON\n\n"u8.ToArray(), aborted);
                break;
            case "chaos-endless":
                Interlocked.Increment(ref _endlessInFlight);
                try
                {
                    var chunk = Token(new string('y', 4000));
                    while (true)
                    {
                        await writer.WriteAsync(chunk, aborted);
                        // A write that completes at once would loop without ever giving the thread back: ten such streams
                        // starved this process's thread pool, and the other drills' /api/v1/models calls timed out here.
                        await Task.Yield();
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref _endlessInFlight);
                }

            default:
                ctx.Response.StatusCode = 404;
                return;
        }

        await writer.WriteAsync(FinishEvent, aborted);
        await writer.WriteAsync(UsageTail, aborted);
        await writer.WriteAsync(DoneEvent, aborted);
    }

    private static byte[] Token(string text) =>
        Event("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":" + JsonSerializer.Serialize(text, DrillJson.Default.String) + "},\"logprobs\":null,\"finish_reason\":null}]}");

    private static byte[] Event(string choices) => Encoding.UTF8.GetBytes("data: " + ChunkHead + choices + "\n\n");

    private static Task WriteJson(HttpContext ctx, string body)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(body);
    }

    private static string NativeModels() =>
        "{\"models\":[" + string.Join(',', Models.Select(m =>
            "{\"type\":\"llm\",\"publisher\":\"chaos\",\"key\":\"" + m + "\",\"display_name\":\"" + m + "\",\"architecture\":\"qwen3\","
            + "\"quantization\":{\"name\":\"Q4_K_M\",\"bits_per_weight\":4.8},\"size_bytes\":1000,\"params_string\":\"8B\","
            + "\"loaded_instances\":[{\"id\":\"" + m + "\",\"config\":{\"context_length\":32768}}],\"max_context_length\":32768,"
            + "\"format\":\"gguf\",\"capabilities\":{\"vision\":false,\"trained_for_tool_use\":true}}")) + "]}";

    private static string V0Models() =>
        "{\"object\":\"list\",\"data\":[" + string.Join(',', Models.Select(m =>
            "{\"id\":\"" + m + "\",\"object\":\"model\",\"type\":\"llm\",\"publisher\":\"chaos\",\"arch\":\"qwen3\",\"compatibility_type\":\"gguf\","
            + "\"quantization\":\"Q4_K_M\",\"state\":\"loaded\",\"max_context_length\":32768,\"loaded_context_length\":32768,\"capabilities\":[\"tool_use\"]}")) + "]}";

    private static string OpenAIModels() =>
        "{\"object\":\"list\",\"data\":[" + string.Join(',', Models.Select(m => "{\"id\":\"" + m + "\",\"object\":\"model\",\"owned_by\":\"chaos\"}")) + "]}";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class DrillJson : System.Text.Json.Serialization.JsonSerializerContext;
