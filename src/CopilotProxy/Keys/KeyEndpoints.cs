using System.Globalization;
using System.Text.Json;
using CopilotProxy.Http;
using CopilotProxy.Keys.Wire;
using CopilotProxy.Queueing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Keys;

/// <summary>
/// LiteLLM's key management routes on the gateway, with LiteLLM's field names. They take the master key; a virtual
/// key may read its own <c>/key/info</c>. Bad input gets a 400 naming the field; the database being down gets a 503.
/// </summary>
public static class KeyEndpoints
{
    private const int MaxPageSize = 100;

    public static RouteGroupBuilder MapKeyApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/key").WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI)).WithMetadata(GatewayKeyRequired.Instance);
        group.MapPost("/generate", GenerateAsync);
        group.MapGet("/info", InfoAsync);
        group.MapPost("/update", UpdateAsync);
        group.MapPost("/delete", DeleteAsync);
        group.MapGet("/list", ListAsync);
        // The dashboard's poll of the same list, under /ui/api so its every-5-s calls stay out of the traffic list and totals.
        app.MapGet("/ui/api/keys", ListAsync).WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI)).WithMetadata(GatewayKeyRequired.Instance);
        return group;
    }

    private static Task GenerateAsync(HttpContext context, KeyLookup lookup, TimeProvider time, ILogger<KeyLookup> logger) => GuardAsync(context, async () =>
    {
        if (await ReadFieldsAsync(context) is not { } fields)
        {
            return;
        }

        var clear = fields.Key ?? KeyTokens.Generate();
        var now = time.GetUtcNow();
        var key = fields.ApplyTo(new VirtualKey { Token = KeyTokens.Hash(clear), KeyName = KeyTokens.DisplayName(clear), CreatedAt = now }, now);
        if (await lookup.Store.FindAsync(key.Token, context.RequestAborted) is not null)
        {
            await BadRequestAsync(context, "A key with this value exists already: leave \"key\" out and the gateway generates one.", "key");
            return;
        }

        if (!await lookup.Store.InsertAsync(key, context.RequestAborted))
        {
            await BadRequestAsync(context, $"The key_alias '{key.KeyAlias}' belongs to another key already; aliases are unique.", "key_alias");
            return;
        }

        KeysLog.KeyChanged(logger, key.Label, "created", key.Token);
        // The only time the clear key leaves the gateway: only its hash is stored.
        await WriteAsync(context, Details(key) with { Key = clear }, KeysJsonContext.Default.KeyDetails);
    });

    private static Task InfoAsync(HttpContext context, KeyLookup lookup, DeploymentQueues queues, TimeProvider time) => GuardAsync(context, async () =>
    {
        var caller = context.GetKeyCaller();
        var asked = context.Request.Query["key"].ToString();
        if (asked.Length == 0 && caller?.Key is null)
        {
            await BadRequestAsync(context, "Name the key: GET /key/info?key=sk-… (the key or its token).", "key");
            return;
        }

        var token = asked.Length > 0 ? KeyTokens.TokenOf(asked) : caller!.Key!.Token;
        if (caller?.IsMaster != true && caller?.Key?.Token != token)
        {
            await ForbiddenAsync(context, "A virtual key may read only its own /key/info; other keys need the master key.");
            return;
        }

        if (await lookup.Store.FindAsync(token, context.RequestAborted) is not { } key)
        {
            await NotFoundAsync(context, token);
            return;
        }

        var details = await WithUsageAsync(Details(key), lookup.Store, queues, time, context.RequestAborted);
        await WriteAsync(context, new KeyInfoResponse(key.Token, details), KeysJsonContext.Default.KeyInfoResponse);
    });

    private static Task UpdateAsync(HttpContext context, KeyLookup lookup, TimeProvider time, ILogger<KeyLookup> logger) => GuardAsync(context, async () =>
    {
        if (!await RequireMasterAsync(context) || await ReadFieldsAsync(context) is not { } fields)
        {
            return;
        }

        if (fields.Key is null)
        {
            await BadRequestAsync(context, "Name the key to update: {\"key\": \"sk-…\", …}.", "key");
            return;
        }

        var token = KeyTokens.Hash(fields.Key);
        if (await lookup.Store.FindAsync(token, context.RequestAborted) is not { } key)
        {
            await NotFoundAsync(context, token);
            return;
        }

        var updated = fields.ApplyTo(key, time.GetUtcNow());
        if (!await lookup.Store.UpdateAsync(updated, context.RequestAborted))
        {
            await BadRequestAsync(context, $"The key_alias '{updated.KeyAlias}' belongs to another key already; aliases are unique.", "key_alias");
            return;
        }

        lookup.Forget(token);
        KeysLog.KeyChanged(logger, updated.Label, "updated", token);
        await WriteAsync(context, Details(updated), KeysJsonContext.Default.KeyDetails);
    });

    private static Task DeleteAsync(HttpContext context, KeyLookup lookup, ILogger<KeyLookup> logger) => GuardAsync(context, async () =>
    {
        if (!await RequireMasterAsync(context) || await ReadBodyAsync(context) is not { } body)
        {
            return;
        }

        using (body)
        {
            var root = body.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array || keys.GetArrayLength() == 0
                || keys.EnumerateArray().Any(k => k.ValueKind != JsonValueKind.String || k.GetString() is not { Length: > 0 })
                || root.EnumerateObject().Any(p => p.Name != "keys"))
            {
                await BadRequestAsync(context, "The body must be {\"keys\": [\"sk-…\", …]}: a non-empty array of keys (or their tokens).", "keys");
                return;
            }

            var tokens = keys.EnumerateArray().Select(k => KeyTokens.TokenOf(k.GetString()!)).ToList();
            var deleted = await lookup.Store.DeleteAsync(tokens, context.RequestAborted);
            foreach (var token in tokens)
            {
                lookup.Forget(token);
            }

            if (deleted.Count == 0)
            {
                await NotFoundAsync(context, tokens[0]);
                return;
            }

            foreach (var token in deleted)
            {
                KeysLog.KeyChanged(logger, token[..8], "deleted", token);
            }

            await WriteAsync(context, new KeyDeleteResponse(deleted), KeysJsonContext.Default.KeyDeleteResponse);
        }
    });

    private static Task ListAsync(HttpContext context, KeyLookup lookup, DeploymentQueues queues, TimeProvider time) => GuardAsync(context, async () =>
    {
        if (!await RequireMasterAsync(context))
        {
            return;
        }

        var query = context.Request.Query;
        if (!TryQueryInt(query["page"], 1, 1, int.MaxValue, out var page) || !TryQueryInt(query["size"], 10, 1, MaxPageSize, out var size))
        {
            await BadRequestAsync(context, $"page must be a whole number from 1, and size from 1 to {MaxPageSize}: GET /key/list?page=1&size=10.", "page");
            return;
        }

        var full = query["return_full_object"].ToString();
        if (full.Length > 0 && !bool.TryParse(full, out _))
        {
            await BadRequestAsync(context, "return_full_object must be true or false.", "return_full_object");
            return;
        }

        var (keys, total) = await lookup.Store.ListAsync((page - 1) * size, size, context.RequestAborted);
        var pages = (total + size - 1) / size;
        if (!string.Equals(full, "true", StringComparison.OrdinalIgnoreCase))
        {
            await WriteAsync(context, new KeyListResponse(keys.Select(k => k.Token).ToList(), total, page, pages), KeysJsonContext.Default.KeyListResponse);
            return;
        }

        var details = new List<KeyDetails>();
        foreach (var key in keys)
        {
            details.Add(await WithUsageAsync(Details(key), lookup.Store, queues, time, context.RequestAborted));
        }

        await WriteAsync(context, new KeyListFullResponse(details, total, page, pages), KeysJsonContext.Default.KeyListFullResponse);
    });

    /// <summary>Runs a handler; the database being down is a 503 naming it, not a 500.</summary>
    private static async Task GuardAsync(HttpContext context, Func<Task> handler)
    {
        try
        {
            await handler();
        }
        catch (Exception ex) when (KeyDatabaseFailure.IsUnavailable(ex) && !context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            await KeyErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                $"The key database is unavailable: {ex.Message}. Keys cannot be managed until it is back; see docs/team.md.", "key_database_unavailable");
        }
    }

    private static async Task<bool> RequireMasterAsync(HttpContext context)
    {
        if (context.GetKeyCaller()?.IsMaster == true)
        {
            return true;
        }

        await ForbiddenAsync(context, GatewayAuth.ConfiguredKey(context.RequestServices) is null
            ? "Virtual keys need a master key: set API_KEY (or general_settings.master_key in config.yaml) and send it to manage keys."
            : "Only the master key manages keys.");
        return false;
    }

    private static async Task<JsonDocument?> ReadBodyAsync(HttpContext context)
    {
        var body = await ClientJsonBody.ReadAsync(context);
        if (body.Document is null)
        {
            await KeyErrors.WriteAsync(context, body.Status, body.Error!, "invalid_request");
        }

        return body.Document;
    }

    private static async Task<KeyFields?> ReadFieldsAsync(HttpContext context)
    {
        if (context.Request.Path.Value?.EndsWith("/generate", StringComparison.Ordinal) == true && !await RequireMasterAsync(context))
        {
            return null;
        }

        using var body = await ReadBodyAsync(context);
        if (body is null)
        {
            return null;
        }

        var (fields, error, param) = KeyFields.Parse(body.RootElement);
        if (fields is null)
        {
            await BadRequestAsync(context, error!, param);
        }

        return fields;
    }

    internal static KeyDetails Details(VirtualKey key) => new(
        key.Token, key.KeyName, key.KeyAlias, key.Models, key.RpmLimit, key.TpmLimit, key.MaxParallelRequests, key.MaxBudgetTokens,
        key.ExpiresAt?.ToString("O", CultureInfo.InvariantCulture),
        key.Metadata is { } metadata ? JsonDocument.Parse(metadata).RootElement.Clone() : null,
        key.CreatedAt.ToString("O", CultureInfo.InvariantCulture), key.SpentTokens);

    private static async Task<KeyDetails> WithUsageAsync(KeyDetails details, KeyStore store, DeploymentQueues queues, TimeProvider time, CancellationToken cancellationToken)
    {
        var (all, today) = await store.UsageAsync(details.Token, time.GetUtcNow().ToUnixTimeSeconds() / 86_400, cancellationToken);
        var usage = new KeyUsageInfo(all.Requests, all.PromptTokens, all.CompletionTokens, all.TotalTokens,
            new UsageTotals(today.Requests, today.PromptTokens, today.CompletionTokens, today.TotalTokens));
        return details with { Usage = usage, Waiting = queues.WaitingFor(details.Token) };
    }

    private static bool TryQueryInt(string? text, int fallback, int min, int max, out int value)
    {
        value = fallback;
        return string.IsNullOrEmpty(text) || (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max);
    }

    private static Task WriteAsync<T>(HttpContext context, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        ReadableJson.WriteAsync(context.Response, value, type, context.RequestAborted);

    private static Task BadRequestAsync(HttpContext context, string message, string? param) =>
        WriteOpenAIErrorAsync(context, StatusCodes.Status400BadRequest, message, "invalid_request_error", "bad_request", param);

    private static Task ForbiddenAsync(HttpContext context, string message) =>
        WriteOpenAIErrorAsync(context, StatusCodes.Status403Forbidden, message, "permission_error", "forbidden", null);

    private static Task NotFoundAsync(HttpContext context, string token) =>
        WriteOpenAIErrorAsync(context, StatusCodes.Status404NotFound, $"No key with token {token[..12]}… exists: it was deleted, or never issued here. GET /key/list lists the keys.",
            "not_found_error", "key_not_found", "key");

    private static Task WriteOpenAIErrorAsync(HttpContext context, int status, string message, string type, string code, string? param)
    {
        context.Response.StatusCode = status;
        var error = new OpenAI.Wire.OpenAIErrorResponse(new OpenAI.Wire.OpenAIError(message, type, param, code));
        return ReadableJson.WriteAsync(context.Response, error, OpenAI.Wire.OpenAIJsonContext.Default.OpenAIErrorResponse, context.RequestAborted);
    }
}
