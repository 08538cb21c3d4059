using System.Buffers;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

// The framework floor for issue 16: the least a Kestrel + HttpClient relay can cost. FLOOR_MODE=copy forwards the
// request and copies each upstream read to the client with one write and flush, parsing nothing; FLOOR_MODE=yarp hands
// the request to YARP's forwarder. `FLOOR=1 bench/load/compare.sh …` runs both beside nginx and the proxy: the gap
// between nginx and the floor is what the frameworks cost, the gap between the floor and the proxy is the proxy's own work.
var mode = Environment.GetEnvironmentVariable("FLOOR_MODE") ?? "copy";
var upstream = new Uri((Environment.GetEnvironmentVariable("LMSTUDIO_URL") ?? "http://127.0.0.1:1234").TrimEnd('/') + "/");
var port = int.Parse(Environment.GetEnvironmentVariable("OLLAMA_PORT") ?? "11434", System.Globalization.CultureInfo.InvariantCulture);

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(o =>
{
    o.AddServerHeader = false;
    o.Limits.MaxConcurrentConnections = null;
    o.Listen(IPAddress.Loopback, port);
});
if (mode == "yarp")
{
    builder.Services.AddHttpForwarder();
}

var app = builder.Build();
var invoker = CopilotProxy.Bench.Floor.FloorHandler.Create();

// compare.sh waits for the model list before measuring.
app.MapGet("/api/tags", () => Results.Text("""{"models":[{"name":"bench-model"}]}""", "application/json"));
if (mode == "yarp")
{
    var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
    var config = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromMinutes(5) };
    app.Map("/{**rest}", async ctx =>
    {
        await forwarder.SendAsync(ctx, upstream.ToString(), invoker, config, HttpTransformer.Empty);
    });
}
else
{
    app.Map("/{**rest}", async ctx =>
    {
        using var request = new HttpRequestMessage(new HttpMethod(ctx.Request.Method), new Uri(upstream, ctx.Request.Path.Value!.TrimStart('/')))
        {
            Version = HttpVersion.Version11,
            Content = new StreamContent(ctx.Request.Body),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", ctx.Request.ContentType);
        using var response = await invoker.SendAsync(request, ctx.RequestAborted);
        ctx.Response.StatusCode = (int)response.StatusCode;
        ctx.Response.ContentType = response.Content.Headers.ContentType?.ToString();
        await using var body = await response.Content.ReadAsStreamAsync(ctx.RequestAborted);
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, ctx.RequestAborted)) > 0)
            {
                await ctx.Response.Body.WriteAsync(buffer.AsMemory(0, read), ctx.RequestAborted);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    });
}

app.Run();
