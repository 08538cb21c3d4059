using System.Diagnostics;
using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Keys;
using CopilotProxy.Loading;
using CopilotProxy.Routing;
using CopilotProxy.Telemetry;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The relay behind <c>/v1/responses</c> and <c>/v1/messages</c> on both front doors: the same model catalog, router
/// (retries and fallbacks before the first byte) and upstream pipeline as chat completions, with each API's own error
/// shape, event stream and usage fields.
/// </summary>
/// <remarks>
/// Steps: 1. read the body and resolve the model (errors in the API's shape); 2. route it, writing the upstream's key and
/// the entry's defaults in the API's spelling; 3. answer 501 when the upstream lacks the API (LM Studio before 0.3.29 /
/// 0.4.1 says 200 "Unexpected endpoint", llama.cpp 404); 4. relay JSON whole, or the stream event by event, flushed per
/// upstream read, ending in the API's own error event when the upstream breaks after the 200.
/// </remarks>
public sealed class EventApiRelay(ModelCatalog catalog, DeploymentRouter router, ModelLifecycle lifecycle, ProxySettings settings, TimeProvider time,
    ILogger<EventApiRelay> logger)
{
    public async Task HandleAsync(HttpContext context, EventApi api)
    {
        ArgumentNullException.ThrowIfNull(context);
        var door = context.GetFrontDoor()?.ToString() ?? "unknown";
        var path = api == EventApi.Responses ? "v1/responses" : "v1/messages";

        // Step 1: the request and its model.
        var body = await ClientJsonBody.ReadAsync(context);
        if (body.Document is null)
        {
            await WriteErrorAsync(context, api, body.Status, body.Error!, null);
            return;
        }

        using var document = body.Document;
        var root = document.RootElement;
        var telemetry = context.GetRequestTelemetry();
        if (ClientJsonBody.GetString(root, "model") is not { } clientModel)
        {
            await WriteErrorAsync(context, api, StatusCodes.Status400BadRequest, "The request has no \"model\". Name one of the models from GET /v1/models.", "model");
            return;
        }

        telemetry.ClientModel = clientModel;
        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(clientModel, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, door, path, failure))
            {
                await WriteFailureAsync(context, api, clientModel, failure);
            }

            return;
        }

        if (model is null)
        {
            var known = string.Join(", ", catalog.Current?.Models.Where(m => m.Kind == ModelKind.Llm).Select(m => m.Id) ?? []);
            await WriteErrorAsync(context, api, StatusCodes.Status404NotFound,
                $"Model '{clientModel}' is not available. Available models: {(known.Length > 0 ? known : "none")}. Download or load it in LM Studio, or pick one of these.", "model");
            return;
        }

        if (context.ModelRefusal(model.Id) is { } refusal)
        {
            await WriteErrorAsync(context, api, StatusCodes.Status401Unauthorized, refusal, "model");
            return;
        }

        // Step 2: route it; the router retries and falls back only while nothing has reached the client.
        var streaming = ClientJsonBody.GetBool(root, "stream", false);
        var formats = settings.ToolCallRepair ? ToolCallFormats.ForSetting(model.ToolCallFormat) : null;
        var tools = new ToolCallOffer(formats is not null ? EventApiRepair.OfferedTools(root) : [], formats);

        // Generation needs the model loaded with enough context (MIN_CONTEXT_LENGTH), as for chat completions.
        ContextOutcome? loaded = null;
        async Task PrepareAsync(CatalogModel group, Deployment deployment, CancellationToken cancellationToken) =>
            loaded = await lifecycle.EnsureContextAsync(group, deployment, null, cancellationToken, telemetry);

        // A model load plus a long prompt can keep the upstream silent for minutes; Copilot gives up after 2. Heartbeats
        // commit the 200 and the event stream early, so from then on failures are the API's own error event.
        using var heartbeat = streaming && settings.StreamHeartbeat > TimeSpan.Zero
            ? new SseHeartbeat(context.Response.BodyWriter, settings.StreamHeartbeat, time) { BeforeFirst = () => OpenAIRelay.StartStreamAsync(context) }
            : null;
        var sent = Stopwatch.GetTimestamp();
        RoutedResponse routed;
        try
        {
            var sending = router.SendAsync(model, path, (deployment, output) => EventApiRequest.Write(root, deployment.UpstreamModel, deployment.Defaults, api, output),
                streaming, context.RequestAborted, PrepareAsync, KeyCaller.QueueTurnOf(context), telemetry);
            routed = heartbeat is null ? await sending : await heartbeat.WhileWaitingAsync(sending, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, door, path, failure))
            {
                await WriteFailureAsync(context, api, clientModel, failure);
            }

            return;
        }

        using (routed)
        {
            telemetry.UpstreamModel = routed.Deployment.UpstreamModel;
            telemetry.MarkUpstreamHeaders(sent);
            if (!context.Response.HasStarted)
            {
                context.Response.Headers[OpenAIRelay.ApiBaseHeader] = routed.Deployment.Upstream.Target.ToString();
            }

            // Step 3: a 2xx, and an upstream that has the API at all.
            if (await UpstreamPipeline.CheckStatusAsync(routed.Answer) is { } failure)
            {
                // A 501 is not a missing route: it says what the upstream can't do ("image input is not supported"), and the
                // client hears it as a 501 in its API's shape (WriteFailureAsync), with the upstream's own words.
                if (failure.UpstreamStatus is 404 or 405 && !context.Response.HasStarted)
                {
                    await WriteUnsupportedAsync(context, api, routed.Url, routed.Answer.Upstream);
                    return;
                }

                failure = lifecycle.ExplainOverflow(failure, routed.Deployment, clientModel, loaded?.LoadedContext ?? model.LoadedContextLength, ContextAdvice.Fix(model, ollamaClient: false)) ?? failure;

                FailureReporting.Report(context, logger, door, path, failure);
                await WriteFailureAsync(context, api, clientModel, failure);
                return;
            }

            // Step 4: the answer.
            // Once heartbeats committed an event stream, the answer has to be one, whatever the upstream chose.
            if ((UpstreamPipeline.IsJson(routed.Response) || !streaming) && !context.Response.HasStarted)
            {
                await RelayJsonAsync(context, api, door, path, clientModel, routed, tools, ReasoningFormatNames.For(model.ReasoningFormat, settings.ReasoningTags));
            }
            else
            {
                await RelayStreamAsync(context, api, door, path, clientModel, routed, heartbeat, tools, ReasoningFormatNames.For(model.ReasoningFormat, settings.ReasoningTags));
            }
        }
    }

    private async Task RelayJsonAsync(HttpContext context, EventApi api, string door, string path, string clientModel, RoutedResponse routed, ToolCallOffer tools,
        ReasoningFormats reasoning)
    {
        var (answer, failure) = await UpstreamPipeline.ReadJsonAsync(routed.Answer);
        if (answer is null)
        {
            if (FailureReporting.Report(context, logger, door, path, failure!))
            {
                await WriteFailureAsync(context, api, clientModel, failure!);
            }

            return;
        }

        using (answer)
        using (var output = new PooledBufferWriter())
        {
            var root = answer.RootElement;
            if (IsUnexpectedEndpoint(root))
            {
                await WriteUnsupportedAsync(context, api, routed.Url, routed.Answer.Upstream);
                return;
            }

            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("usage"u8, out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                var telemetry = context.GetRequestTelemetry();
                telemetry.PromptTokens = usage.TryGetProperty("input_tokens"u8, out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var iv) ? iv : null;
                telemetry.CompletionTokens = usage.TryGetProperty("output_tokens"u8, out var o) && o.ValueKind == JsonValueKind.Number && o.TryGetInt32(out var ov) ? ov : null;
            }

            // Reasoning written as text leaves the text first (so the repair sees only the answer); a tool call the model wrote
            // as text then becomes the API's own call; the rename walks the result.
            using var separated = ReasoningAnswers.Separate(root, api, reasoning, clientModel, logger, out var found);
            context.GetRequestTelemetry().RecordReasoningFromText(found);
            root = separated?.RootElement ?? root;
            using var repairedBody = new PooledBufferWriter();
            JsonDocument? repaired = null;
            if (tools.Offered)
            {
                using (var writer = new Utf8JsonWriter(repairedBody, RelayJson.WriterOptions))
                {
                    var count = EventApiRepair.TryWrite(root, api, writer, () => tools.NewRepair(clientModel, logger, context.GetRequestTelemetry())!);
                    writer.Flush();
                    if (count > 0)
                    {
                        context.GetRequestTelemetry().RecordRepairedToolCalls(count);
                        repaired = JsonDocument.Parse(repairedBody.WrittenMemory);
                    }
                }
            }

            // The same walk as a stream's events renames the model; a whole answer is written as one JSON body, without SSE framing.
            using (repaired)
            {
                JsonRelay.WriteCompletion(repaired?.RootElement ?? root, clientModel, output);
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = output.WrittenMemory.Length;
            await context.Response.Body.WriteAsync(output.WrittenMemory, context.RequestAborted);
        }
    }

    private async Task RelayStreamAsync(HttpContext context, EventApi api, string door, string path, string clientModel, RoutedResponse routed, SseHeartbeat? heartbeat, ToolCallOffer tools,
        ReasoningFormats reasoning)
    {
        var telemetry = context.GetRequestTelemetry();
        await OpenAIRelay.StartStreamAsync(context);

        // SSE comments (": keep-alive") written during upstream silences are ignored by both APIs' SDKs and by this relay's event reader.
        var output = new BoundedResponseWriter(context.Response.BodyWriter);
        using var repair = tools.NewRepair(clientModel, logger, context.GetRequestTelemetry());
        using var streamReasoning = reasoning == ReasoningFormats.None ? null
            : api == EventApi.Messages ? new MessagesReasoning(new Reasoning.ReasoningSplitter(reasoning, clientModel, logger))
            : (IEventStreamReasoning)new ResponsesReasoning(new Reasoning.ReasoningSplitter(reasoning, clientModel, logger));
        var relay = new EventStreamRelay(output, api, clientModel, repair) { Reasoning = streamReasoning };
        var failure = await UpstreamPipeline.ReadEventsAsync(routed.Answer, relay, output, telemetry.MarkFirstToken, heartbeat);
        if (failure is { Failure: UpstreamFailure.ClientCanceled })
        {
            FailureReporting.Report(context, logger, door, path, failure);
            return;
        }

        if (failure is null && relay.UpstreamError is { } upstreamError)
        {
            // The upstream's own error event went through as it was; it still counts as a failed answer.
            failure = new UpstreamException(UpstreamFailure.Status, $"The upstream at {routed.Url} ended the stream with an error: {upstreamError}", routed.Url);
        }
        else if (failure is null && !relay.Finished)
        {
            failure = new UpstreamException(UpstreamFailure.MidStream,
                $"The upstream at {routed.Url} closed the stream before its last event. Check LM Studio's server log; the model may have crashed or been unloaded.", routed.Url);
        }

        if (failure is not null && !relay.Finished)
        {
            // Headers and a 200 are already on the wire: the API's own error event is the only way left to say the answer is incomplete.
            relay.WriteError(failure.Message, OpenAIErrors.CodeFor(failure.Failure));
            await FinalFlush.TryAsync(output);
        }

        telemetry.RecordRepairedToolCalls(relay.RepairedToolCalls);
        telemetry.RecordReasoningFromText(streamReasoning?.Found);
        telemetry.Record(failure?.Failure, relay.FinishReason, relay.InputTokens, relay.OutputTokens);
        if (failure is not null)
        {
            FailureReporting.Report(context, logger, door, path, failure);
        }
        else
        {
            await FinalFlush.TryEndAsync(context.Response);
        }
    }

    /// <summary>501 when the upstream has no such API, in that API's error shape, naming the upstream and the LM Studio version it needs.</summary>
    private static Task WriteUnsupportedAsync(HttpContext context, EventApi api, Uri url, UpstreamClient? upstream)
    {
        var (name, since) = api == EventApi.Responses ? ("Responses API (/v1/responses)", "0.3.29") : ("Anthropic Messages API (/v1/messages)", "0.4.1");
        var message = $"{UpstreamClient.SentenceNameOf(upstream)} at {url} does not offer the {name}. LM Studio has it since {since}: update LM Studio, or use /v1/chat/completions instead.";
        return api == EventApi.Messages
            ? AnthropicErrors.WriteAsync(context, StatusCodes.Status501NotImplemented, message)
            : OpenAIErrors.WriteAsync(context, StatusCodes.Status501NotImplemented, message, code: "unsupported_endpoint");
    }

    private static Task WriteErrorAsync(HttpContext context, EventApi api, int status, string message, string? param) =>
        api == EventApi.Messages
            ? AnthropicErrors.WriteAsync(context, status, message)
            : OpenAIErrors.WriteAsync(context, status, message, code: status == StatusCodes.Status404NotFound ? "model_not_found" : null, param: param);

    /// <summary>
    /// A failure before any upstream event: a status and the API's error body, or, once heartbeats have committed the 200,
    /// the API's own error event (<c>response.failed</c>, Anthropic's <c>error</c>).
    /// </summary>
    private static async Task WriteFailureAsync(HttpContext context, EventApi api, string clientModel, UpstreamException failure)
    {
        if (!context.Response.HasStarted)
        {
            await (api == EventApi.Messages ? AnthropicErrors.WriteAsync(context, failure) : OpenAIErrors.WriteAsync(context, failure));
            return;
        }

        context.GetRequestTelemetry().Failure ??= failure.Failure;
        var output = context.Response.BodyWriter;
        new EventStreamRelay(output, api, clientModel).WriteError(failure.Message, failure.UpstreamCode ?? OpenAIErrors.CodeFor(failure.Failure));
        await FinalFlush.TryAsync(output);
    }

    /// <summary>LM Studio answers routes it lacks with 200 and <c>{"error":"Unexpected endpoint or method. …"}</c> (docs/protocol.md §3.2).</summary>
    private static bool IsUnexpectedEndpoint(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error"u8, out var error) && error.ValueKind == JsonValueKind.String
        && error.GetString()!.StartsWith("Unexpected endpoint", StringComparison.OrdinalIgnoreCase);
}
