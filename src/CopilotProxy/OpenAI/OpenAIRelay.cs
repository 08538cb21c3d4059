using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Keys;
using CopilotProxy.Loading;
using CopilotProxy.Reasoning;
using CopilotProxy.Routing;
using CopilotProxy.Telemetry;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>The OpenAI operations the relay forwards, each to the upstream route of the same name.</summary>
public enum OpenAIOperation
{
    ChatCompletions,
    Completions,
    Embeddings,
}

/// <summary>
/// The relay behind the OpenAI routes on both front doors: resolve the model in the model catalog, route it to a
/// deployment (rewriting the model and applying the entry's defaults), and stream the answer back. The Responses and
/// Messages APIs have their own relay (<see cref="EventApiRelay"/>): their errors and events have other shapes.
/// </summary>
public sealed class OpenAIRelay(ModelCatalog catalog, DeploymentRouter router, ModelLifecycle lifecycle, ProxySettings settings, TimeProvider time, ILogger<OpenAIRelay> logger)
{
    /// <summary>The header LiteLLM uses to say which deployment answered; handy when a group spans several upstreams.</summary>
    public const string ApiBaseHeader = "x-litellm-model-api-base";

    public Task HandleAsync(HttpContext context) => HandleAsync(context, OpenAIOperation.ChatCompletions);

    public async Task HandleAsync(HttpContext context, OpenAIOperation operation)
    {
        var started = Stopwatch.GetTimestamp();
        var door = context.GetFrontDoor()?.ToString() ?? "unknown";
        var path = UpstreamPath(operation);
        var body = await ClientJsonBody.ReadAsync(context);
        if (body.Document is null)
        {
            await OpenAIErrors.WriteAsync(context, body.Status, body.Error!);
            return;
        }

        using var document = body.Document;
        var root = document.RootElement;
        var telemetry = context.GetRequestTelemetry();
        if (ClientJsonBody.GetString(root, "model") is not { } clientModel)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "The request has no \"model\". Name one of the models from GET /v1/models.", param: "model");
            return;
        }

        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(clientModel, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, door, path, failure))
            {
                await OpenAIErrors.WriteAsync(context, failure);
            }

            return;
        }

        telemetry.ClientModel = clientModel;
        if (model is null)
        {
            var known = string.Join(", ", catalog.Current?.Models.Select(m => m.Id) ?? []);
            var where = catalog.Upstreams.Count == 1 && catalog.Upstreams[0].Upstream.Target.IsDefault
                ? $"{UpstreamClient.NameOf(catalog.Upstreams[0].Upstream)} at {catalog.Upstreams[0].Upstream.BaseUrl}"
                : "any configured upstream";
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound,
                $"Model '{clientModel}' is not available from {where}. Available models: {(known.Length > 0 ? known : "none")}. Download or load it in LM Studio, or pick one of these.",
                code: "model_not_found", param: "model");
            return;
        }

        if (context.ModelRefusal(model.Id) is { } refusal)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status401Unauthorized, refusal, code: "key_model_access_denied", param: "model");
            return;
        }

        var streaming = ClientJsonBody.GetBool(root, "stream", false);
        var formats = settings.ToolCallRepair ? ToolCallFormats.ForSetting(model.ToolCallFormat) : null;
        var tools = operation == OpenAIOperation.ChatCompletions && formats is not null ? RepairedToolCalls.OfferedTools(root) : [];
        var base64 = operation == OpenAIOperation.Embeddings
            && string.Equals(ClientJsonBody.GetString(root, "encoding_format"), "base64", StringComparison.Ordinal);
        // Sampling defaults mean nothing to embeddings.
        var applyDefaults = operation is OpenAIOperation.ChatCompletions or OpenAIOperation.Completions;
        void WriteBody(Deployment deployment, PooledBufferWriter output) =>
            JsonRelay.WriteRequest(root, deployment.UpstreamModel, applyDefaults ? deployment.Defaults : ModelDefaults.None, output,
                // Floats are asked for and encoded here when needed: upstreams differ in whether they honour base64.
                omit: operation == OpenAIOperation.Embeddings ? "encoding_format" : null);

        // Generation needs the model loaded with enough context (MIN_CONTEXT_LENGTH); embeddings don't.
        ContextOutcome? loaded = null;
        var generates = operation != OpenAIOperation.Embeddings;
        async Task PrepareAsync(CatalogModel group, Deployment deployment, CancellationToken cancellationToken) =>
            loaded = await lifecycle.EnsureContextAsync(group, deployment, null, cancellationToken, telemetry);

        // A model load plus a long prompt can keep the upstream from answering for minutes; Copilot gives up after 2.
        using var heartbeat = streaming && operation is OpenAIOperation.ChatCompletions or OpenAIOperation.Completions
            && settings.StreamHeartbeat > TimeSpan.Zero
            ? new SseHeartbeat(context.Response.BodyWriter, settings.StreamHeartbeat, time) { BeforeFirst = () => StartStreamAsync(context) }
            : null;

        var sent = Stopwatch.GetTimestamp();
        RoutedResponse routed;
        try
        {
            var sending = router.SendAsync(model, path, WriteBody, streaming, context.RequestAborted, generates ? PrepareAsync : null, KeyCaller.QueueTurnOf(context), telemetry);
            routed = heartbeat is null ? await sending : await heartbeat.WhileWaitingAsync(sending, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, door, path, failure))
            {
                await WriteFailureAsync(context, operation, failure);
            }

            return;
        }

        using (routed)
        {
            telemetry.UpstreamModel = routed.Deployment.UpstreamModel;
            telemetry.MarkUpstreamHeaders(sent);
            if (!context.Response.HasStarted)
            {
                SetServerTiming(context.Response, started, sent);
                context.Response.Headers[ApiBaseHeader] = routed.Deployment.Upstream.Target.ToString();
            }

            await RelayAnswerAsync(context, door, operation, path, clientModel, streaming, base64, new(tools, formats), routed, model, loaded, heartbeat);
        }
    }

    /// <summary>
    /// Answers a failure before any upstream byte: with a status and the error body, or, once heartbeats have committed the
    /// 200, as the protocol's in-band error (an SSE error event, then <c>[DONE]</c> for chat and completions).
    /// </summary>
    private static async Task WriteFailureAsync(HttpContext context, OpenAIOperation operation, UpstreamException failure)
    {
        if (!context.Response.HasStarted)
        {
            await OpenAIErrors.WriteAsync(context, failure);
            return;
        }

        context.GetRequestTelemetry().Failure ??= failure.Failure;
        var output = context.Response.BodyWriter;
        var code = failure.UpstreamCode ?? OpenAIErrors.CodeFor(failure.Failure);
        output.Write(OpenAIErrors.SseEvent(failure.Message, code));
        output.Write("data: [DONE]\n\n"u8);

        await FinalFlush.TryAsync(output);
    }

    private async Task RelayAnswerAsync(HttpContext context, string door, OpenAIOperation operation, string path, string clientModel, bool streaming, bool base64,
        ToolCallOffer tools, RoutedResponse routed, CatalogModel model, ContextOutcome? loaded, SseHeartbeat? heartbeat)
    {
        var response = routed.Response;
        if (await UpstreamPipeline.CheckStatusAsync(routed.Answer) is { } failure)
        {
            failure = lifecycle.ExplainOverflow(failure, routed.Deployment, clientModel, loaded?.LoadedContext ?? model.LoadedContextLength, ContextAdvice.Fix(model, ollamaClient: false)) ?? failure;

            FailureReporting.Report(context, logger, door, path, failure);
            await WriteFailureAsync(context, operation, failure);
            return;
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        // Once heartbeats committed an event stream, the answer has to be one, whatever the upstream chose.
        var isStream = mediaType == "text/event-stream" || (streaming && mediaType is null) || context.Response.HasStarted;
        switch (operation)
        {
            case OpenAIOperation.ChatCompletions or OpenAIOperation.Completions when isStream:
                await RelayStreamAsync(context, door, path, clientModel, tools, ReasoningFor(operation, model), routed, heartbeat);
                break;
            default:
                await RelayJsonAsync(context, door, operation, path, clientModel, base64, tools, ReasoningFor(operation, model), routed);
                break;
        }
    }

    /// <summary>The reasoning forms to take out of a chat answer's text: the model's <c>reasoning_format</c>, else REASONING_TAGS.</summary>
    private ReasoningFormats ReasoningFor(OpenAIOperation operation, CatalogModel model) =>
        operation == OpenAIOperation.ChatCompletions ? ReasoningFormatNames.For(model.ReasoningFormat, settings.ReasoningTags) : ReasoningFormats.None;

    private async Task RelayStreamAsync(HttpContext context, string door, string path, string clientModel, ToolCallOffer tools, ReasoningFormats reasoning,
        RoutedResponse routed, SseHeartbeat? heartbeat)
    {
        var telemetry = context.GetRequestTelemetry();
        await StartStreamAsync(context);
        var repair = tools.NewRepair(clientModel, logger, telemetry);
        bool ended;
        using (var relay = new SseRelay(new BoundedResponseWriter(context.Response.BodyWriter), clientModel, logger, telemetry, repair, ReasoningEvents.For(reasoning, clientModel, logger)))
        {
            var outcome = await relay.RunAsync(routed.Answer, heartbeat);
            telemetry.RecordReasoningFromText(relay.ReasoningFound);
            telemetry.Record(outcome.Failure, outcome.FinishReason, outcome.PromptTokens, outcome.CompletionTokens);
            if (outcome.Failure is { } failure)
            {
                FailureReporting.Report(context, logger, door, path, failure, relay.FailureMessage ?? "the upstream sent an error event, relayed in band");
            }

            ended = relay.Ended;
        }

        if (ended)
        {
            await FinalFlush.EndAsync(context.Response);
        }
    }

    /// <summary>Commits 200 and the SSE headers; does nothing when a heartbeat already did. The Responses and Messages relay shares it.</summary>
    internal static Task StartStreamAsync(HttpContext context)
    {
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        context.GetRequestTelemetry().MarkStreaming();
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return context.Response.StartAsync(context.RequestAborted);
    }

    private async Task RelayJsonAsync(HttpContext context, string door, OpenAIOperation operation, string path, string clientModel, bool base64, ToolCallOffer tools,
        ReasoningFormats reasoning, RoutedResponse routed)
    {
        var (answer, failure) = await UpstreamPipeline.ReadJsonAsync(routed.Answer);
        if (answer is null)
        {
            if (FailureReporting.Report(context, logger, door, path, failure!))
            {
                await OpenAIErrors.WriteAsync(context, failure!);
            }

            return;
        }

        using (answer)
        using (var output = new PooledBufferWriter())
        {
            var root = answer.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                output.Write(System.Text.Encoding.UTF8.GetBytes(root.GetRawText()));
            }
            else if (operation == OpenAIOperation.Embeddings)
            {
                JsonRelay.WriteEmbeddings(root, clientModel, base64, output);
            }
            else
            {
                var telemetry = context.GetRequestTelemetry();
                RecordUsage(root, telemetry);
                // Reasoning written as text leaves the message first, so the repair sees only the answer.
                using var separated = ReasoningMessages.Separate(root, reasoning, clientModel, logger, out var found);
                telemetry.RecordReasoningFromText(found);
                telemetry.RecordRepairedToolCalls(JsonRelay.WriteCompletion(separated?.RootElement ?? root, clientModel, output,
                    tools.Offered ? () => tools.NewRepair(clientModel, logger, telemetry)! : null));
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = output.WrittenMemory.Length;
            await context.Response.Body.WriteAsync(output.WrittenMemory, context.RequestAborted);
        }
    }

    private static void RecordUsage(JsonElement completion, RequestTelemetry telemetry)
    {
        int? promptTokens = null, completionTokens = null;
        OpenAIChunk.ReadUsage(completion, ref promptTokens, ref completionTokens);
        telemetry.PromptTokens = promptTokens;
        telemetry.CompletionTokens = completionTokens;
    }

    private static string UpstreamPath(OpenAIOperation operation) => operation switch
    {
        OpenAIOperation.ChatCompletions => "v1/chat/completions",
        OpenAIOperation.Completions => "v1/completions",
        OpenAIOperation.Embeddings => "v1/embeddings",
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };

    /// <summary>Standard Server-Timing: the proxy's own time before calling the upstream, and the upstream's time to headers.</summary>
    private static void SetServerTiming(HttpResponse response, long started, long sent)
    {
        // Whole microseconds written as milliseconds with three decimals: formatting two doubles with a custom pattern cost
        // 1.4 µs of every answer's time to first byte (docs/performance.md, issue 25, wave 8).
        var proxy = (long)Stopwatch.GetElapsedTime(started, sent).TotalMicroseconds;
        var upstreamHeaders = (long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds;
        response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture,
            $"proxy;dur={proxy / 1000}.{proxy % 1000:D3}, upstream;dur={upstreamHeaders / 1000}.{upstreamHeaders % 1000:D3}");
    }
}
