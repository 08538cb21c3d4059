using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CopilotProxy.Tests.Harness;

/// <summary>
/// A fake LM Studio 0.4.x on real Kestrel (127.0.0.1, ephemeral port), quirks included: 200 + error body for unknown
/// endpoints, string-or-object errors, role repeated in every delta, usage chunk with choices [] only when asked for,
/// JIT loading of a not-loaded model on first use. Chat, completions and embeddings answer from a script
/// (<see cref="Enqueue"/>, then <see cref="Responder"/>, then a default LM Studio-like answer).
/// Dispose it to simulate LM Studio going down: in-flight responses are cut and the port stops listening.
/// </summary>
public sealed class FakeLmStudio : IAsyncDisposable
{
    public const string NoModelsLoadedMessage = "No models loaded. Please load a model in the developer page or use the 'lms load' command.";

    private static readonly TimeSpan DropGrace = TimeSpan.FromMilliseconds(100);

    private readonly ConcurrentQueue<FakeResponse> _script = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly Channel<RecordedRequest> _disconnects = Channel.CreateUnbounded<RecordedRequest>();
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private int _sequence;
    private int _disposed;

    private FakeLmStudio(FakeApiLevel apiLevel)
    {
        ApiLevel = apiLevel;
        ResponsesApi = MessagesApi = apiLevel == FakeApiLevel.V1;
    }

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Downloaded models. Mutate between requests; the fake reads a snapshot under lock(Models).</summary>
    public List<FakeModel> Models { get; } = [];

    public FakeApiLevel ApiLevel { get; set; }

    /// <summary>Dynamic answers for chat/completions/embeddings when the queue is empty; return null to fall through to the default.</summary>
    public Func<RecordedRequest, FakeResponse?>? Responder { get; set; }

    /// <summary>
    /// Context length a not-loaded model gets when a request JIT-loads it (LM Studio's default is 4096).
    /// Null = JIT loading off: requests for a not-loaded model get 400 "No models loaded...".
    /// </summary>
    public int? JitContextLength { get; set; } = 4096;

    /// <summary>Serves <c>/v1/responses</c> (LM Studio 0.3.29+); off, the route gets LM Studio's 200 "Unexpected endpoint" body, as older builds answer.</summary>
    public bool ResponsesApi { get; set; }

    /// <summary>Serves the Anthropic-compatible <c>/v1/messages</c> (LM Studio 0.4.1+); off, as <see cref="ResponsesApi"/>.</summary>
    public bool MessagesApi { get; set; }

    /// <summary>How long a load takes, as LM Studio's load of a large model does: <c>/api/v1/models/load</c> and just-in-time loads both wait this long.</summary>
    public TimeSpan LoadDelay { get; set; }

    /// <summary>When set, <c>/api/v1/models/unload</c> answers only once this task completes (an unload that takes its time).</summary>
    public Task? UnloadGate { get; set; }

    /// <summary>Completes when the first <c>/api/v1/models/unload</c> arrives: the proxy unloads after the client has its answer.</summary>
    public Task UnloadArrived => _unloadArrived.Task;

    private readonly TaskCompletionSource _unloadArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When set, <c>/api/v1/models/load</c> fails with this message (LM Studio's answer when the model does not fit in memory).</summary>
    public string? LoadFailure { get; set; }

    /// <summary>Models LM Studio's catalog offers for <c>/api/v1/models/download</c>; a finished download moves the model to <see cref="Models"/>.</summary>
    public List<FakeModel> Downloadable { get; } = [];

    /// <summary>Status polls a download takes to finish (each reports a further share of the bytes).</summary>
    public int DownloadSteps { get; set; } = 3;

    /// <summary>When set, a download fails after its first status poll with this message.</summary>
    public string? DownloadFailure { get; set; }

    /// <summary>The text the default responder streams or returns, split into word tokens.</summary>
    public string DefaultReply { get; set; } = "Hello! How can I help you today?";

    /// <summary>How the default responder splits <see cref="DefaultReply"/> into streamed tokens; null splits before spaces.
    /// <see cref="LmStudioTokens.Split"/> splits as a BPE tokenizer does.</summary>
    public Func<string, string[]>? ReplyTokenizer { get; set; }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Requests per path (query excluded), including ones answered 404 or "Unexpected endpoint".</summary>
    public IReadOnlyDictionary<string, int> RequestCounts => new Dictionary<string, int>(_counts, StringComparer.Ordinal);

    /// <summary>
    /// The upstream calls in order, one line each, with the fields that tell model-management calls apart
    /// (e.g. <c>POST /api/v1/models/load {"model":"m","context_length":32768}</c>); printed by tests to show a sequence.
    /// </summary>
    public IReadOnlyList<string> CallLog(bool includeDiscovery = true) =>
        [.. Requests.Where(r => includeDiscovery || r.Path != "/api/v1/models").Select(Describe)];

    private static string Describe(RecordedRequest r)
    {
        if (r.Json is not JsonObject body)
        {
            return $"{r.Method} {r.Path}";
        }

        var fields = new JsonObject();
        foreach (var name in (ReadOnlySpan<string>)["model", "context_length", "instance_id", "stream"])
        {
            if (body[name] is { } value)
            {
                fields[name] = value.DeepClone();
            }
        }

        return $"{r.Method} {r.Path} {fields.ToJsonString()}";
    }

    /// <summary>Scripted responses not yet used.</summary>
    public int PendingResponses => _script.Count;

    /// <param name="port">0 for any free port; a fixed one to play an LM Studio that starts after the proxy, at the address it was told.</param>
    public static async Task<FakeLmStudio> StartAsync(FakeApiLevel apiLevel = FakeApiLevel.V1, int port = 0)
    {
        var fake = new FakeLmStudio(apiLevel);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        fake._app = app;
        fake.BaseUrl = new Uri(address);
        return fake;
    }

    public void Enqueue(FakeResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        _script.Enqueue(response);
    }

    public int CountOf(string path) => _counts.TryGetValue(path, out var n) ? n : 0;

    public IReadOnlyList<FakeModel> ModelsSnapshot()
    {
        lock (Models)
        {
            return [.. Models];
        }
    }

    /// <summary>
    /// The next request whose caller went away while the fake was still streaming or hanging, in the order they
    /// happened. Throws TimeoutException if none comes within <paramref name="timeout"/> (default 10 s).
    /// </summary>
    public async Task<RecordedRequest> NextClientDisconnectAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _disconnects.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No client disconnect reached the fake LM Studio in time.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }

        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = await RecordAsync(context);
        var selfAborted = false;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            if (LoadDelay > TimeSpan.Zero && NeedsLoad(request))
            {
                await Task.Delay(LoadDelay, linked.Token);
            }

            if (request.Path == "/api/v1/models/unload")
            {
                _unloadArrived.TrySetResult();
                await (UnloadGate ?? Task.CompletedTask).WaitAsync(linked.Token);
            }

            var response = Route(context.Request.Method, request);
            selfAborted = await WriteAsync(context, response, linked.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            if (_stopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                // LM Studio going down mid-answer: the proxy must see a dead connection, not a clean end.
                context.Abort();
                selfAborted = true;
            }
        }
        finally
        {
            var clientLeft = !selfAborted && context.RequestAborted.IsCancellationRequested;
            request.SetOutcome(clientLeft);
            if (clientLeft)
            {
                _disconnects.Writer.TryWrite(request);
            }
        }
    }

    private async Task<RecordedRequest> RecordAsync(HttpContext context)
    {
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in context.Request.Headers)
        {
            headers[name] = value.ToString();
        }

        var chunked = context.Request.Headers.TransferEncoding.ToString().Contains("chunked", StringComparison.OrdinalIgnoreCase);
        var path = context.Request.Path.Value ?? "/";
        var request = new RecordedRequest(Interlocked.Increment(ref _sequence), context.Request.Method, path,
            context.Request.QueryString.Value ?? "", headers, body, chunked);
        lock (_requests)
        {
            _requests.Add(request);
        }

        _counts.AddOrUpdate(path, 1, (_, n) => n + 1);
        return request;
    }

    private FakeResponse Route(string method, RecordedRequest request)
    {
        var path = request.Path;
        var level = ApiLevel;
        if (level == FakeApiLevel.OpenAIOnly && !path.StartsWith("/v1/", StringComparison.Ordinal))
        {
            return LlamaNotFound();
        }

        if (level == FakeApiLevel.V0 && path.StartsWith("/api/v1/", StringComparison.Ordinal))
        {
            return UnexpectedEndpoint(method, path);
        }

        switch (method, path)
        {
            case ("GET", "/v1/models"):
                return FakeResponse.Json(200, OpenAIModelsJson());
            case ("GET", "/api/v0/models"):
                return FakeResponse.Json(200, V0ModelsJson());
            case ("GET", "/api/v1/models"):
                return FakeResponse.Json(200, V1ModelsJson());
            case ("POST", "/api/v1/models/load"):
                return Load(request);
            case ("POST", "/api/v1/models/unload"):
                return Unload(request);
            case ("POST", "/api/v1/models/download"):
                return Download(request);
            case ("POST", "/v1/chat/completions"):
            case ("POST", "/v1/completions"):
            case ("POST", "/v1/embeddings"):
                return Scripted(request);
            case ("POST", "/v1/responses") when ResponsesApi:
            case ("POST", "/v1/messages") when MessagesApi:
                return Scripted(request);
            default:
                break;
        }

        if (method == "GET" && path.StartsWith("/api/v1/models/download/status/", StringComparison.Ordinal))
        {
            return DownloadStatus(Uri.UnescapeDataString(path["/api/v1/models/download/status/".Length..]));
        }

        if (method == "GET" && path.StartsWith("/api/v0/models/", StringComparison.Ordinal))
        {
            var key = Uri.UnescapeDataString(path["/api/v0/models/".Length..]);
            var model = ModelsSnapshot().FirstOrDefault(m => m.Key == key);
            return model is null
                ? FakeResponse.ErrorString(404, $"Model \"{key}\" not found")
                : FakeResponse.Json(200, JsJson.Write(V0Model(model)));
        }

        return level == FakeApiLevel.OpenAIOnly ? LlamaNotFound() : UnexpectedEndpoint(method, path);
    }

    private static FakeResponse UnexpectedEndpoint(string method, string path) =>
        FakeResponse.ErrorString(200, $"Unexpected endpoint or method. ({method} {path})");

    private static FakeResponse LlamaNotFound() =>
        FakeResponse.Json(404, "{\"error\":{\"code\":404,\"message\":\"File Not Found\",\"type\":\"not_found_error\"}}");

    private FakeResponse Scripted(RecordedRequest request)
    {
        if (_script.TryDequeue(out var scripted))
        {
            return scripted;
        }

        return Responder?.Invoke(request) ?? DefaultAnswer(request);
    }

    private FakeResponse DefaultAnswer(RecordedRequest request)
    {
        if (request.Json is not JsonObject body)
        {
            return FakeResponse.ErrorString(400, "Failed to parse request body as JSON.");
        }

        var modelKey = request.Model ?? "";
        var models = ModelsSnapshot();
        if (models.Count > 0)
        {
            var model = models.FirstOrDefault(m => m.Key == modelKey);
            if (model is null)
            {
                return FakeResponse.ErrorObject(400,
                    $"Invalid model identifier \"{modelKey}\". Please specify a valid downloaded model (e.g., {models[0].Key}).",
                    "invalid_request_error", "model", "model_not_found");
            }

            if (!model.IsLoaded)
            {
                if (JitContextLength is not { } jit)
                {
                    return FakeResponse.ErrorString(400, NoModelsLoadedMessage);
                }

                lock (Models)
                {
                    var i = Models.FindIndex(m => m.Key == model.Key);
                    if (i >= 0 && Models[i].LoadedContextLength is null)
                    {
                        Models[i] = Models[i] with { LoadedContextLength = Math.Min(jit, Models[i].MaxContextLength) };
                    }
                }
            }
        }

        var stream = body["stream"] is JsonValue s && s.TryGetValue<bool>(out var b) && b;
        var includeUsage = body["stream_options"] is JsonObject so && so["include_usage"] is JsonValue iu && iu.TryGetValue<bool>(out var u) && u;
        var promptTokens = Math.Max(1, request.Body.Length / 4);
        if (request.Path != "/v1/embeddings" && ModelsSnapshot().FirstOrDefault(m => m.Key == modelKey)?.LoadedContextLength is { } loadedContext && promptTokens > loadedContext)
        {
            // What each engine says when the prompt does not fit (protocol.md §8.6; LM Studio's own wording otherwise).
            return ApiLevel == FakeApiLevel.OpenAIOnly
                ? FakeResponse.Json(400, "{\"error\":{\"code\":400,\"type\":\"exceed_context_size_error\",\"message\":\"request (" + JsJson.Number(promptTokens)
                    + " tokens) exceeds the available context size (" + JsJson.Number(loadedContext) + " tokens), try increasing it\",\"n_prompt_tokens\":"
                    + JsJson.Number(promptTokens) + ",\"n_ctx\":" + JsJson.Number(loadedContext) + "}}")
                : FakeResponse.ErrorString(400, $"Trying to keep the first {promptTokens} tokens when context the overflows. However, the model is loaded with context length of only {loadedContext} tokens, which is not enough. Try to load the model with a larger context length, or provide a shorter input");
        }
        var tokens = ReplyTokenizer is { } tokenizer ? tokenizer(DefaultReply) : Tokenize(DefaultReply);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        switch (request.Path)
        {
            case "/v1/responses":
                return stream
                    ? FakeResponse.Events(LmStudioEventStreams.Responses(modelKey, tokens, null, promptTokens))
                    : FakeResponse.Json(200, LmStudioEventStreams.ResponsesJson(modelKey, DefaultReply, promptTokens, tokens.Length));
            case "/v1/messages":
                return stream
                    ? FakeResponse.Events(LmStudioEventStreams.Messages(modelKey, tokens, null, promptTokens))
                    : FakeResponse.Json(200, LmStudioEventStreams.MessagesJson(modelKey, DefaultReply, promptTokens, tokens.Length));
            case "/v1/embeddings":
                return FakeResponse.Json(200, EmbeddingsJson(body, modelKey, promptTokens));
            case "/v1/completions":
                var cmplId = "cmpl-" + LmStudioSse.RandomAlnum(26);
                if (!stream)
                {
                    return FakeResponse.Json(200, "{\"id\":" + JsJson.Quote(cmplId) + ",\"object\":\"text_completion\",\"created\":"
                        + JsJson.Number(created) + ",\"model\":" + JsJson.Quote(modelKey) + ",\"choices\":[{\"index\":0,\"text\":"
                        + JsJson.Quote(DefaultReply) + ",\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
                        + LmStudioSse.UsageJson(promptTokens, tokens.Length) + "}");
                }

                string TextChunk(string text, string? finish) =>
                    "{\"id\":" + JsJson.Quote(cmplId) + ",\"object\":\"text_completion\",\"created\":" + JsJson.Number(created)
                    + ",\"model\":" + JsJson.Quote(modelKey) + ",\"choices\":[{\"index\":0,\"text\":" + JsJson.Quote(text)
                    + ",\"logprobs\":null,\"finish_reason\":" + JsJson.Quote(finish) + "}]}";
                return FakeResponse.Sse([.. tokens.Select(t => TextChunk(t, null)), TextChunk("", "stop"), "[DONE]"]);
            default:
                if (stream)
                {
                    var sse = new LmStudioSse(modelKey, created: created).Content(tokens).Finish("stop");
                    if (includeUsage)
                    {
                        sse.Usage(promptTokens, tokens.Length);
                    }

                    return FakeResponse.Sse(sse);
                }

                return FakeResponse.Json(200, "{\"id\":" + JsJson.Quote("chatcmpl-" + LmStudioSse.RandomAlnum(26))
                    + ",\"object\":\"chat.completion\",\"created\":" + JsJson.Number(created) + ",\"model\":" + JsJson.Quote(modelKey)
                    + ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" + JsJson.Quote(DefaultReply)
                    + "},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":" + LmStudioSse.UsageJson(promptTokens, tokens.Length)
                    + ",\"stats\":{},\"system_fingerprint\":" + JsJson.Quote(modelKey) + "}");
        }
    }

    private static string EmbeddingsJson(JsonObject body, string model, int promptTokens)
    {
        // LM Studio ignores encoding_format and always returns float arrays (lmstudio-bug-tracker#756).
        var inputs = body["input"] switch
        {
            JsonArray a => a.Select(n => n?.ToJsonString() ?? "").ToList(),
            JsonNode n => [n.ToJsonString()],
            null => [],
        };
        var data = new JsonArray();
        for (var i = 0; i < inputs.Count; i++)
        {
            var vector = new JsonArray();
            var seed = 17;
            foreach (var c in inputs[i])
            {
                seed = unchecked((seed * 31) + c);
            }

            var rng = new Random(seed);
            for (var d = 0; d < 8; d++)
            {
                vector.Add(Math.Round((rng.NextDouble() * 2) - 1, 6));
            }

            data.Add(new JsonObject { ["object"] = "embedding", ["embedding"] = vector, ["index"] = i });
        }

        var result = new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = model,
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["total_tokens"] = promptTokens },
        };
        return JsJson.Write(result);
    }

    private FakeResponse Load(RecordedRequest request)
    {
        var key = request.Model ?? "";
        var requested = request.Json?["context_length"] is JsonValue v && v.TryGetValue<int>(out var c) ? c : (int?)null;
        lock (Models)
        {
            var i = Models.FindIndex(m => m.Key == key);
            if (i < 0)
            {
                return FakeResponse.ErrorString(404, $"Model \"{key}\" not found");
            }

            if (LoadFailure is { } failure)
            {
                return FakeResponse.ErrorObject(400, failure, "model_load_failed", null, null);
            }

            var ctx = Math.Min(requested ?? JitContextLength ?? 4096, Models[i].MaxContextLength);
            Models[i] = Models[i] with { LoadedContextLength = ctx };
            return FakeResponse.Json(200, "{\"type\":" + JsJson.Quote(Models[i].IsEmbedding ? "embedding" : "llm") + ",\"instance_id\":"
                + JsJson.Quote(key) + ",\"load_time_seconds\":" + JsJson.Number(Math.Round(LoadDelay.TotalSeconds, 3)) + ",\"status\":\"loaded\"}");
        }
    }

    private FakeResponse Unload(RecordedRequest request)
    {
        var id = request.Json?["instance_id"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
        lock (Models)
        {
            var i = Models.FindIndex(m => m.Key == id);
            if (i < 0 || Models[i].LoadedContextLength is null)
            {
                return FakeResponse.ErrorString(404, $"No loaded model instance with id \"{id}\"");
            }

            Models[i] = Models[i] with { LoadedContextLength = null };
        }

        return FakeResponse.Json(200, "{\"instance_id\":" + JsJson.Quote(id) + "}");
    }

    /// <summary>Whether answering this request loads a model: an explicit load, or a request for a downloaded model that is not loaded (JIT).</summary>
    private bool NeedsLoad(RecordedRequest request)
    {
        if (request.Method != "POST")
        {
            return false;
        }

        if (request.Path == "/api/v1/models/load")
        {
            // A load that runs out of memory fails only after trying for a while, as in LM Studio.
            return true;
        }

        return request.Path is "/v1/chat/completions" or "/v1/completions" or "/v1/responses" && JitContextLength is not null
            && ModelsSnapshot().FirstOrDefault(m => m.Key == request.Model) is { IsLoaded: false };
    }

    private readonly Dictionary<string, (FakeModel Model, int Polls)> _downloads = new(StringComparer.Ordinal);

    private FakeResponse Download(RecordedRequest request)
    {
        var key = request.Model ?? "";
        if (ModelsSnapshot().Any(m => m.Key == key))
        {
            return FakeResponse.Json(200, "{\"status\":\"already_downloaded\"}");
        }

        FakeModel? offered;
        lock (Downloadable)
        {
            offered = Downloadable.FirstOrDefault(m => m.Key == key);
        }

        if (offered is null)
        {
            return FakeResponse.ErrorObject(404, $"Could not find model \"{key}\" in the LM Studio catalog.", "invalid_request_error", "model", "model_not_found");
        }

        var jobId = "job_" + LmStudioSse.RandomAlnum(12);
        lock (_downloads)
        {
            _downloads[jobId] = (offered, 0);
        }

        return FakeResponse.Json(200, "{\"job_id\":" + JsJson.Quote(jobId) + ",\"status\":\"downloading\",\"total_size_bytes\":"
            + JsJson.Number(offered.SizeBytes) + ",\"started_at\":\"2026-11-30T00:00:00.000Z\"}");
    }

    private FakeResponse DownloadStatus(string jobId)
    {
        FakeModel model;
        int polls;
        lock (_downloads)
        {
            if (!_downloads.TryGetValue(jobId, out var job))
            {
                return FakeResponse.ErrorObject(404, $"No download job with id \"{jobId}\"", "invalid_request_error", "job_id", null);
            }

            polls = job.Polls + 1;
            model = job.Model;
            _downloads[jobId] = (model, polls);
        }

        var total = model.SizeBytes;
        if (DownloadFailure is { } failure && polls > 1)
        {
            return FakeResponse.Json(200, "{\"status\":\"failed\",\"downloaded_bytes\":" + JsJson.Number(total / DownloadSteps) + ",\"total_size_bytes\":"
                + JsJson.Number(total) + ",\"error\":" + JsJson.Quote(failure) + "}");
        }

        if (polls >= DownloadSteps)
        {
            lock (Models)
            {
                if (!Models.Any(m => m.Key == model.Key))
                {
                    Models.Add(model with { LoadedContextLength = null });
                }
            }

            return FakeResponse.Json(200, "{\"status\":\"completed\",\"downloaded_bytes\":" + JsJson.Number(total) + ",\"total_size_bytes\":"
                + JsJson.Number(total) + ",\"bytes_per_second\":0,\"completed_at\":\"2026-11-30T00:00:05.000Z\"}");
        }

        var done = total * polls / DownloadSteps;
        return FakeResponse.Json(200, "{\"status\":\"downloading\",\"downloaded_bytes\":" + JsJson.Number(done) + ",\"total_size_bytes\":"
            + JsJson.Number(total) + ",\"bytes_per_second\":52428800,\"estimated_completion\":\"2026-11-30T00:00:05.000Z\"}");
    }

    private static async Task<bool> WriteAsync(HttpContext context, FakeResponse response, CancellationToken cancel)
    {
        var http = context.Response;
        foreach (var (name, value) in response.Headers)
        {
            http.Headers[name] = value;
        }

        switch (response.Kind)
        {
            case FakeResponseKind.Json:
                http.StatusCode = response.Status;
                http.ContentType = "application/json; charset=utf-8";
                await http.WriteAsync(response.Body, cancel);
                return false;
            case FakeResponseKind.Hang:
                await Task.Delay(Timeout.Infinite, cancel);
                return false;
            case FakeResponseKind.RawSse:
                SetSseHeaders(http);
                await http.WriteAsync(response.Body, cancel);
                await http.Body.FlushAsync(cancel);
                return false;
            default:
                SetSseHeaders(http);
                await http.StartAsync(cancel);
                var written = 0;
                foreach (var payload in response.Payloads)
                {
                    if (response.DropAfter is { } drop && written >= drop)
                    {
                        break;
                    }

                    if (written > 0 && response.DelayBetween > TimeSpan.Zero)
                    {
                        await Task.Delay(response.DelayBetween, cancel);
                    }

                    var name = response.EventNames.Count > written ? "event: " + response.EventNames[written] + "\n" : "";
                    await http.WriteAsync(name + "data: " + payload + "\n\n", cancel);
                    await http.Body.FlushAsync(cancel);
                    written++;
                }

                if (response.DropAfter is not null)
                {
                    // Kestrel drops output still queued in its pipe on Abort; give the flushed events time to reach the socket
                    // so the caller really sees N events and then a dead connection.
                    await Task.Delay(DropGrace, cancel);
                    context.Abort();
                    return true;
                }

                return false;
        }
    }

    private static void SetSseHeaders(HttpResponse http)
    {
        http.StatusCode = 200;
        http.ContentType = "text/event-stream";
        http.Headers.CacheControl = "no-cache";
    }

    private static string[] Tokenize(string text)
    {
        var tokens = new List<string>();
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == ' ')
            {
                tokens.Add(text[start..i]);
                start = i;
            }
        }

        return [.. tokens];
    }

    private string OpenAIModelsJson()
    {
        var data = new JsonArray();
        foreach (var m in ModelsSnapshot())
        {
            var entry = new JsonObject { ["id"] = m.Key, ["object"] = "model", ["owned_by"] = "organization_owner" };
            if (ApiLevel == FakeApiLevel.OpenAIOnly)
            {
                // llama.cpp's server: n_ctx is one slot's context (-c / -np), n_ctx_train the model's maximum (protocol.md §8.6).
                entry["meta"] = new JsonObject { ["n_ctx"] = m.LoadedContextLength ?? JitContextLength ?? 4096, ["n_ctx_train"] = m.MaxContextLength, ["size"] = m.SizeBytes };
            }

            data.Add(entry);
        }

        return JsJson.Write(new JsonObject { ["data"] = data, ["object"] = "list" });
    }

    private string V0ModelsJson()
    {
        var data = new JsonArray();
        foreach (var m in ModelsSnapshot())
        {
            data.Add(V0Model(m));
        }

        return JsJson.Write(new JsonObject { ["object"] = "list", ["data"] = data });
    }

    private static JsonObject V0Model(FakeModel m)
    {
        var o = new JsonObject
        {
            ["id"] = m.Key,
            ["object"] = "model",
            ["type"] = m.IsEmbedding ? "embeddings" : m.Type,
            ["publisher"] = m.Publisher,
            ["arch"] = m.Architecture,
            ["compatibility_type"] = m.Format,
            ["quantization"] = m.Quantization,
            ["state"] = m.IsLoaded ? "loaded" : "not-loaded",
            ["max_context_length"] = m.MaxContextLength,
        };
        if (m.LoadedContextLength is { } loaded)
        {
            o["loaded_context_length"] = loaded;
        }

        if (m.TrainedForToolUse)
        {
            o["capabilities"] = new JsonArray("tool_use");
        }

        return o;
    }

    private string V1ModelsJson()
    {
        var models = new JsonArray();
        foreach (var m in ModelsSnapshot())
        {
            var instances = new JsonArray();
            if (m.LoadedContextLength is { } ctx)
            {
                var config = new JsonObject { ["context_length"] = ctx };
                if (!m.IsEmbedding)
                {
                    config["eval_batch_size"] = 512;
                    config["parallel"] = 4;
                    config["flash_attention"] = true;
                    config["offload_kv_cache_to_gpu"] = true;
                }

                instances.Add(new JsonObject { ["id"] = m.Key, ["config"] = config });
            }

            var entry = new JsonObject
            {
                ["type"] = m.IsEmbedding ? "embedding" : "llm",
                ["publisher"] = m.Publisher,
                ["key"] = m.Key,
                ["display_name"] = m.DisplayName ?? m.Key,
                ["architecture"] = m.Architecture,
                ["quantization"] = new JsonObject { ["name"] = m.Quantization, ["bits_per_weight"] = m.BitsPerWeight },
                ["size_bytes"] = m.SizeBytes,
                ["params_string"] = m.ParamsString,
                ["loaded_instances"] = instances,
                ["max_context_length"] = m.MaxContextLength,
                ["format"] = m.Format,
            };
            if (!m.IsEmbedding)
            {
                var capabilities = new JsonObject { ["vision"] = m.Vision || m.Type == "vlm", ["trained_for_tool_use"] = m.TrainedForToolUse };
                if (m.Reasoning)
                {
                    capabilities["reasoning"] = new JsonObject { ["allowed_options"] = new JsonArray("off", "on"), ["default"] = "on" };
                }

                entry["capabilities"] = capabilities;
            }

            models.Add(entry);
        }

        return JsJson.Write(new JsonObject { ["models"] = models });
    }
}
