using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Keys;

/// <summary>
/// A virtual key's limits, checked before its request goes anywhere: the token budget, <c>max_parallel_requests</c>
/// (counted on this replica, as LiteLLM counts it per process), and <c>rpm_limit</c>/<c>tpm_limit</c> (one counter per
/// key and minute in the database, so replicas sharing PostgreSQL share the limit). A refusal is a 429 in the API's own
/// shape with <c>Retry-After</c> and OpenAI's <c>x-ratelimit-*</c> headers.
/// </summary>
public sealed class KeyLimits(KeyStore store, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    /// <summary>Admits the request (returning what to dispose when it ends), or answers 429 and returns null.</summary>
    public async Task<IDisposable?> AdmitAsync(HttpContext context, VirtualKey key)
    {
        if (key.MaxBudgetTokens is { } budget && key.SpentTokens >= budget)
        {
            context.Response.Headers["x-ratelimit-limit-tokens"] = budget.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["x-ratelimit-remaining-tokens"] = "0";
            await KeyErrors.WriteAsync(context, StatusCodes.Status429TooManyRequests,
                $"The key '{key.Label}' has used its budget: {key.SpentTokens} of {budget} tokens (max_budget_tokens). Raise it with POST /key/update, or use another key.",
                "budget_exceeded");
            return null;
        }

        var slot = TakeSlot(key);
        if (slot is null)
        {
            context.Response.Headers.RetryAfter = "1";
            await KeyErrors.WriteAsync(context, StatusCodes.Status429TooManyRequests,
                $"The key '{key.Label}' already has {key.MaxParallelRequests} requests in flight on this gateway (max_parallel_requests). Wait for one to finish.",
                "max_parallel_requests_exceeded");
            return null;
        }

        if (key.RpmLimit is null && key.TpmLimit is null)
        {
            return slot;
        }

        var now = time.GetUtcNow();
        var minute = now.ToUnixTimeSeconds() / 60;
        var reset = (int)(((minute + 1) * 60) - now.ToUnixTimeSeconds());
        bool admitted;
        KeyWindow window;
        try
        {
            (admitted, window) = await store.TakeRequestAsync(key.Token, minute, key.RpmLimit, key.TpmLimit, context.RequestAborted);
        }
        catch
        {
            slot.Dispose();
            throw;
        }

        WriteHeaders(context.Response.Headers, key, window, reset);
        if (admitted)
        {
            return slot;
        }

        slot.Dispose();
        context.Response.Headers.RetryAfter = Math.Max(1, reset).ToString(CultureInfo.InvariantCulture);
        var which = key.RpmLimit is { } rpm && window.Requests >= rpm
            ? $"{window.Requests} of {rpm} requests this minute (rpm_limit)"
            : $"{window.Tokens} of {key.TpmLimit} tokens this minute (tpm_limit)";
        await KeyErrors.WriteAsync(context, StatusCodes.Status429TooManyRequests,
            $"The key '{key.Label}' has used {which}. Try again in {Math.Max(1, reset)} s.", "rate_limit_exceeded");
        return null;
    }

    /// <summary>Requests this key has in flight on this replica.</summary>
    public int InFlight(string token) => _inFlight.GetValueOrDefault(token);

    private Slot? TakeSlot(VirtualKey key)
    {
        while (true)
        {
            var current = _inFlight.GetOrAdd(key.Token, 0);
            if (key.MaxParallelRequests is { } max && current >= max)
            {
                return null;
            }

            if (_inFlight.TryUpdate(key.Token, current + 1, current))
            {
                return new Slot(this, key.Token);
            }
        }
    }

    private static void WriteHeaders(IHeaderDictionary headers, VirtualKey key, KeyWindow window, int reset)
    {
        var resetText = $"{Math.Max(1, reset)}s";
        if (key.RpmLimit is { } rpm)
        {
            headers["x-ratelimit-limit-requests"] = rpm.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = Math.Max(0, rpm - window.Requests).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = resetText;
        }

        if (key.TpmLimit is { } tpm)
        {
            headers["x-ratelimit-limit-tokens"] = tpm.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = Math.Max(0, tpm - window.Tokens).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = resetText;
        }
    }

    private sealed class Slot(KeyLimits owner, string token) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner._inFlight.AddOrUpdate(token, 0, static (_, n) => Math.Max(0, n - 1));
            }
        }
    }
}
