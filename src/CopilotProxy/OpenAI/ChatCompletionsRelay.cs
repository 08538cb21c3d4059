using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Hosting;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.OpenAI;

/// <summary>The relay behind <c>/v1/chat/completions</c> on both front doors: resolve the model, forward, stream back.</summary>
public sealed class ChatCompletionsRelay(ModelCatalog catalog, UpstreamClient upstream, ShutdownDrain drain, ILogger<ChatCompletionsRelay> logger)
{
    private const string UpstreamPath = "v1/chat/completions";

    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var door = context.GetFrontDoor()?.ToString() ?? "unknown";
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

        using var upstreamBody = new PooledBufferWriter();
        CatalogModel? model;
        try
        {
            model = await catalog.FindAsync(clientModel, context.RequestAborted);
        }
        catch (UpstreamException failure)
        {
            telemetry.Failure = failure.Failure;
            RelayLog.UpstreamFailed(logger, door, UpstreamPath, failure.Failure.ToString(), failure.Message);
            await OpenAIErrors.WriteAsync(context, failure);
            return;
        }

        telemetry.ClientModel = clientModel;
        if (model is null)
        {
            var known = string.Join(", ", catalog.Current?.Models.Select(m => m.Id) ?? []);
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound,
                $"Model '{clientModel}' is not available from LM Studio at {upstream.BaseUrl}. Available models: {(known.Length > 0 ? known : "none")}. Download or load it in LM Studio, or pick one of these.",
                code: "model_not_found", param: "model");
            return;
        }

        telemetry.UpstreamModel = model.UpstreamId;
        JsonRelay.WriteRequest(root, model.UpstreamId, upstreamBody);
        var streaming = ClientJsonBody.GetBool(root, "stream", false);
        await ForwardAsync(context, door, clientModel, upstreamBody.WrittenMemory, streaming, started, telemetry);
    }

    private async Task ForwardAsync(HttpContext context, string door, string clientModel, ReadOnlyMemory<byte> requestBody, bool streaming, long started, RequestTelemetry telemetry)
    {
        using var timeout = new ActivityTimeout(upstream.IdleTimeout, context.RequestAborted, drain.Expired);
        var sent = Stopwatch.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await upstream.PostJsonAsync(UpstreamPath, requestBody, timeout);
        }
        catch (UpstreamException failure) when (failure.Failure == UpstreamFailure.ClientCanceled)
        {
            telemetry.Failure = failure.Failure;
            RelayLog.ClientCanceled(logger, door, UpstreamPath);
            return;
        }
        catch (UpstreamException failure)
        {
            telemetry.Failure = failure.Failure;
            RelayLog.UpstreamFailed(logger, door, UpstreamPath, failure.Failure.ToString(), failure.Message);
            await OpenAIErrors.WriteAsync(context, failure);
            return;
        }

        using (response)
        {
            SetServerTiming(context.Response, started, sent);
            telemetry.MarkUpstreamHeaders(sent);
            var url = upstream.Resolve(UpstreamPath);
            if (!response.IsSuccessStatusCode)
            {
                var failure = await UpstreamErrors.FromStatusAsync(response, url, timeout.Token);
                telemetry.Failure = failure.Failure;
                RelayLog.UpstreamFailed(logger, door, UpstreamPath, failure.Failure.ToString(), failure.Message);
                await OpenAIErrors.WriteAsync(context, failure);
                return;
            }

            // The upstream's content type, not the request's "stream" flag, decides: some servers ignore the flag.
            if (response.Content.Headers.ContentType?.MediaType == "text/event-stream" || (streaming && response.Content.Headers.ContentType is null))
            {
                await RelayStreamAsync(context, door, clientModel, response, timeout, url, telemetry);
            }
            else
            {
                await RelayJsonAsync(context, door, clientModel, response, timeout, url, telemetry);
            }
        }
    }

    private async Task RelayStreamAsync(HttpContext context, string door, string clientModel, HttpResponseMessage response, ActivityTimeout timeout, Uri url, RequestTelemetry telemetry)
    {
        telemetry.MarkStreaming();
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await context.Response.StartAsync(context.RequestAborted);

        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
        using var relay = new SseRelay(context.Response.BodyWriter, clientModel, logger, telemetry);
        var outcome = await relay.RunAsync(stream, timeout, url);
        telemetry.Record(outcome.Failure, outcome.FinishReason, outcome.PromptTokens, outcome.CompletionTokens);
        if (outcome.Failure == UpstreamFailure.ClientCanceled)
        {
            RelayLog.ClientCanceled(logger, door, UpstreamPath);
        }
        else if (outcome.Failure is { } failure)
        {
            RelayLog.UpstreamFailed(logger, door, UpstreamPath, failure.ToString(), "stream ended with an in-band error event");
        }
    }

    private async Task RelayJsonAsync(HttpContext context, string door, string clientModel, HttpResponseMessage response, ActivityTimeout timeout, Uri url, RequestTelemetry telemetry)
    {
        JsonDocument completion;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            completion = await JsonDocument.ParseAsync(stream, default, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.ClientAborted)
        {
            telemetry.Failure = UpstreamFailure.ClientCanceled;
            RelayLog.ClientCanceled(logger, door, UpstreamPath);
            return;
        }
        catch (Exception ex) when (ex is JsonException or IOException or HttpRequestException or OperationCanceledException)
        {
            var failure = ex is not OperationCanceledException
                ? new UpstreamException(UpstreamFailure.InvalidResponse, $"The upstream at {url} sent an unreadable completion ({ex.Message}).", url, 200, ex)
                : timeout.DrainExpired ? UpstreamClient.ShuttingDown(url, ex) : UpstreamClient.TimedOut(url, timeout.Idle, ex);
            telemetry.Failure = failure.Failure;
            RelayLog.UpstreamFailed(logger, door, UpstreamPath, failure.Failure.ToString(), failure.Message);
            await OpenAIErrors.WriteAsync(context, failure);
            return;
        }

        using (completion)
        using (var output = new PooledBufferWriter())
        {
            if (completion.RootElement.ValueKind == JsonValueKind.Object)
            {
                RecordUsage(completion.RootElement, telemetry);
                JsonRelay.WriteCompletion(completion.RootElement, clientModel, output);
            }
            else
            {
                output.Write(System.Text.Encoding.UTF8.GetBytes(completion.RootElement.GetRawText()));
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = output.WrittenMemory.Length;
            await context.Response.Body.WriteAsync(output.WrittenMemory, context.RequestAborted);
        }
    }

    private static void RecordUsage(JsonElement completion, RequestTelemetry telemetry)
    {
        if (completion.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            telemetry.PromptTokens = usage.TryGetProperty("prompt_tokens", out var p) && p.TryGetInt32(out var pv) ? pv : null;
            telemetry.CompletionTokens = usage.TryGetProperty("completion_tokens", out var c) && c.TryGetInt32(out var cv) ? cv : null;
        }
    }

    /// <summary>Standard Server-Timing: the proxy's own time before calling the upstream, and the upstream's time to headers.</summary>
    private static void SetServerTiming(HttpResponse response, long started, long sent)
    {
        var proxy = Stopwatch.GetElapsedTime(started, sent).TotalMilliseconds;
        var upstreamHeaders = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
        response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture, $"proxy;dur={proxy:0.###}, upstream;dur={upstreamHeaders:0.###}");
    }
}
