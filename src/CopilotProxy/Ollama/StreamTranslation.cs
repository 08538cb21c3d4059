using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.Keys;
using CopilotProxy.Loading;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;
using CopilotProxy.Routing;
using CopilotProxy.Telemetry;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Ollama;

/// <summary>
/// Sends a translated chat or generate request through the router and translates the answer back, streamed as Ollama
/// NDJSON lines or aggregated into one object, reading the upstream through <see cref="UpstreamPipeline"/>.
/// </summary>
public sealed class StreamTranslation(DeploymentRouter router, ModelLifecycle lifecycle, ProxySettings settings, ILogger<StreamTranslation> logger)
{
    private const string Door = ModelResolution.Door;

    /// <summary>
    /// Sends the translated request and streams the translated answer.
    /// </summary>
    /// <remarks>
    /// Step 1: send; failures before any byte went to the client get a proper status (502 unreachable, 504 timeout, the
    ///         upstream's 4xx).
    /// Step 2: for stream:true, send 200 + application/x-ndjson headers, then one line per upstream event, flushed at once.
    ///         For stream:false, aggregate silently and answer one application/json object at the end.
    /// Step 3: finish with the done line, or, when the upstream broke after the 200 went out, a final {"error":…} line.
    /// The idle timeout is linked to RequestAborted, so a client that disconnects cancels the upstream request.
    /// </remarks>
    internal async Task TranslateAsync(HttpContext context, CatalogModel model, string path, Action<Deployment, PooledBufferWriter> writeBody,
        string clientModel, OllamaAnswerShape shape, bool stream, bool showThinking, long started, OfferedTool[] tools, int? numCtx = null)
    {
        var route = context.Request.Path.Value ?? path;
        var output = new BoundedResponseWriter(context.Response.BodyWriter);
        var telemetry = context.GetRequestTelemetry();
        telemetry.ClientModel = clientModel;
        // Raw generate (/v1/completions) is the client's own template: its text is left as the model wrote it.
        var reasoning = path == GenerateTranslation.CompletionsPath ? ReasoningFormats.None : ReasoningFormatNames.For(model.ReasoningFormat, settings.ReasoningTags);
        using var translator = new ChunkTranslator(output, clientModel, shape, stream, showThinking, started,
            new ToolCallOffer(tools, ToolCallFormats.ForSetting(model.ToolCallFormat)).NewRepair(clientModel, logger, telemetry))
        {
            Reasoning = ReasoningEvents.For(reasoning, clientModel, logger),
        };

        // Step 1: the router picks the deployment and retries connect failures and 5xx on the next one; nothing has
        // reached the client yet, so a retry is invisible to it.
        // Before the request goes, the model is loaded with at least MIN_CONTEXT_LENGTH and the client's num_ctx.
        RoutedResponse routed;
        ContextOutcome? loaded = null;
        var sent = Stopwatch.GetTimestamp();
        translator.MarkUpstreamSent(sent);
        try
        {
            routed = await router.SendAsync(model, path, writeBody, stream, context.RequestAborted,
                async (group, deployment, cancellationToken) => loaded = await lifecycle.EnsureContextAsync(group, deployment, numCtx, cancellationToken, telemetry),
                KeyCaller.QueueTurnOf(context), telemetry);
        }
        catch (UpstreamException failure)
        {
            if (FailureReporting.Report(context, logger, Door, route, failure))
            {
                await OllamaErrors.WriteAsync(context, failure);
            }

            return;
        }

        using (routed)
        {
            var response = routed.Response;
            var url = routed.Url;
            var who = UpstreamClient.SentenceNameOf(routed.Answer.Upstream);
            telemetry.UpstreamModel = routed.Deployment.UpstreamModel;
            telemetry.MarkUpstreamHeaders(sent);
            if (await UpstreamPipeline.CheckStatusAsync(routed.Answer) is { } status)
            {
                status = lifecycle.ExplainOverflow(status, routed.Deployment, clientModel, loaded?.LoadedContext ?? model.LoadedContextLength, ContextAdvice.Fix(model, ollamaClient: true)) ?? status;

                FailureReporting.Report(context, logger, Door, route, status);
                await OllamaErrors.WriteAsync(context, status);
                return;
            }

            // Step 2
            if (stream)
            {
                telemetry.MarkStreaming();
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/x-ndjson";
                context.Response.Headers.CacheControl = "no-cache";
                context.Response.Headers["X-Accel-Buffering"] = "no";
                context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
                await context.Response.StartAsync(context.RequestAborted);
            }

            var failure = await UpstreamPipeline.ReadEventsAsync(routed.Answer, translator, stream ? output : null, stream ? telemetry.MarkFirstToken : null);
            if (failure is { Failure: UpstreamFailure.ClientCanceled })
            {
                FailureReporting.Report(context, logger, Door, route, failure);
                return;
            }

            if (failure is null && UpstreamPipeline.IsJson(response))
            {
                // An upstream that ignored stream:true answered one completion; it ends like a stream.
                translator.HandleEvent("[DONE]"u8);
            }

            UpstreamFailure? broken = failure?.Failure;
            var message = failure?.Message;
            if (broken is null && translator.UnreadableEvent is { } unreadable)
            {
                broken = UpstreamFailure.InvalidResponse;
                message = $"{who} at {url} sent an event that is not JSON ({unreadable}); the answer is incomplete. Check its server log, or whether LMSTUDIO_URL points at an OpenAI-compatible server";
            }
            else if (broken is null && translator.UpstreamError is { } upstreamError)
            {
                broken = UpstreamFailure.Status;
                message = $"{who} at {url} reported an error: {upstreamError}";
            }
            else if (broken is null && !translator.Finished)
            {
                broken = UpstreamFailure.MidStream;
                message = $"{who} at {url} closed the stream before the answer finished (no finish_reason, no [DONE]); check its server log, the model may have crashed or been unloaded";
            }

            var (finishReason, promptTokens, completionTokens) = translator.Outcome;
            telemetry.Record(broken, finishReason, promptTokens, completionTokens);
            telemetry.RecordRepairedToolCalls(translator.RepairedToolCalls);
            telemetry.RecordReasoningFromText(translator.ReasoningFound);

            // Step 3
            if (broken is { } kind)
            {
                FailureReporting.Report(context, logger, Door, route, kind, message!);
                if (stream)
                {
                    // The 200 and earlier lines are already on the wire; Ollama's in-band error line is all that is left.
                    translator.WriteError(message!);
                    await FinalFlush.TryAsync(output);
                }
                else
                {
                    await OllamaErrors.WriteAsync(context, kind == UpstreamFailure.Timeout ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway, message!);
                }

                return;
            }

            if (!stream)
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/json; charset=utf-8";
            }

            translator.WriteDone();
            await FinalFlush.TryEndAsync(context.Response);
        }
    }
}
