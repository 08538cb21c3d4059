using CopilotProxy.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Keys;

/// <summary>
/// Admits a request that presented a key other than the master key: finds the virtual key, refuses it when unknown,
/// expired or over a limit, and counts the finished request's usage. The key database being down fails closed (503)
/// wherever a key is required; on an open front door the request goes on without a key, as it would have anyway.
/// </summary>
internal static class KeyGate
{
    /// <summary>While the database is down every keyed request fails; one log line a minute says so, not one per request.</summary>
    private static long _lastOutageLog;

    public static async Task InvokeAsync(HttpContext context, RequestDelegate next, string presented, bool required)
    {
        var services = context.RequestServices;
        var lookup = services.GetRequiredService<KeyLookup>();
        VirtualKey? key;
        try
        {
            key = await lookup.FindAsync(KeyTokens.Hash(presented), context.RequestAborted);
        }
        catch (Exception ex) when (KeyDatabaseFailure.IsUnavailable(ex) && !context.RequestAborted.IsCancellationRequested)
        {
            if (!required)
            {
                await next(context);
                return;
            }

            var description = lookup.Store.Database.Description;
            var ticks = Environment.TickCount64;
            var last = Interlocked.Read(ref _lastOutageLog);
            if ((last == 0 || ticks - last > 60_000) && Interlocked.CompareExchange(ref _lastOutageLog, ticks, last) == last)
            {
                KeysLog.DatabaseUnavailable(services.GetRequiredService<ILoggerFactory>().CreateLogger("CopilotProxy.Keys"), description, ex.Message);
            }

            await KeyErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                $"The key database ({description}) is unavailable, so virtual keys cannot be checked: {ex.Message}. Requests with the master key still work; see docs/team.md.",
                "key_database_unavailable");
            return;
        }

        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        if (key is null || key.IsExpired(now))
        {
            if (!required)
            {
                await next(context);
                return;
            }

            var why = key is null
                ? "The key is not valid: it was deleted, or never issued by this gateway. Ask for a new key (POST /key/generate with the master key)."
                : $"The key '{key.Label}' expired at {key.ExpiresAt:u}. Extend it with POST /key/update {{\"key\": …, \"duration\": \"30d\"}}, or ask for a new key.";
            await KeyErrors.WriteAsync(context, StatusCodes.Status401Unauthorized, "Authentication error: " + why, "invalid_api_key");
            return;
        }

        var caller = new KeyCaller(key);
        context.Features.Set(caller);
        if (!IsModelCall(context.Request))
        {
            await next(context);
            return;
        }

        IDisposable? admitted;
        try
        {
            admitted = await services.GetRequiredService<KeyLimits>().AdmitAsync(context, key);
        }
        catch (Exception ex) when (KeyDatabaseFailure.IsUnavailable(ex) && !context.RequestAborted.IsCancellationRequested)
        {
            await KeyErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                $"The key database ({lookup.Store.Database.Description}) is unavailable, so the key's rate limits cannot be checked: {ex.Message}. Requests with the master key still work.",
                "key_database_unavailable");
            return;
        }

        if (admitted is null)
        {
            return;
        }

        try
        {
            await next(context);
        }
        finally
        {
            admitted.Dispose();
            var telemetry = context.GetRequestTelemetry();
            services.GetRequiredService<UsageWriter>().Record(caller, telemetry.PromptTokens, telemetry.CompletionTokens);
        }
    }

    /// <summary>Requests that reach a model, on either front door: the ones limits and usage count.</summary>
    public static bool IsModelCall(HttpRequest request)
    {
        if (!HttpMethods.IsPost(request.Method) || request.Path.Value is not { } path)
        {
            return false;
        }

        return path.EndsWith("/chat/completions", StringComparison.Ordinal) || path.EndsWith("/completions", StringComparison.Ordinal)
            || path.EndsWith("/embeddings", StringComparison.Ordinal) || path.EndsWith("/responses", StringComparison.Ordinal)
            || path.EndsWith("/messages", StringComparison.Ordinal) || path is "/api/chat" or "/api/generate" or "/api/embed" or "/api/embeddings";
    }
}
