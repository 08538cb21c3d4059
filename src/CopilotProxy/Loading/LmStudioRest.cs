using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CopilotProxy.Catalog.Wire;
using CopilotProxy.Loading.Wire;
using CopilotProxy.Upstream;

namespace CopilotProxy.Loading;

/// <summary>
/// LM Studio's native model-management routes (docs/protocol.md §8.5): list, load, unload, download and download status.
/// Every failure is an <see cref="UpstreamException"/> naming the URL that failed.
/// </summary>
public static class LmStudioRest
{
    public const string ModelsPath = "api/v1/models";
    public const string LoadPath = "api/v1/models/load";
    public const string UnloadPath = "api/v1/models/unload";
    public const string DownloadPath = "api/v1/models/download";
    public const string DownloadStatusPath = "api/v1/models/download/status/";

    public static async Task<LmStudioV1ModelList> ListAsync(UpstreamClient upstream, ActivityTimeout timeout) =>
        await SendAsync(upstream, ModelsPath, null, CatalogJsonContext.Default.LmStudioV1ModelList, timeout);

    /// <summary>The model's entry in the live list, or null when LM Studio does not have it.</summary>
    public static async Task<LmStudioV1Model?> FindAsync(UpstreamClient upstream, string key, ActivityTimeout timeout)
    {
        var list = await ListAsync(upstream, timeout);
        return list.Models?.FirstOrDefault(m => string.Equals(m.Key, key, StringComparison.OrdinalIgnoreCase));
    }

    public static Task<LmStudioLoadResponse> LoadAsync(UpstreamClient upstream, string key, int? contextLength, ActivityTimeout timeout) =>
        SendAsync(upstream, LoadPath, JsonSerializer.SerializeToUtf8Bytes(new LmStudioLoadRequest(key, contextLength), LoadingRequestJsonContext.Default.LmStudioLoadRequest),
            LoadingJsonContext.Default.LmStudioLoadResponse, timeout);

    public static async Task UnloadAsync(UpstreamClient upstream, string instanceId, ActivityTimeout timeout)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new LmStudioUnloadRequest(instanceId), LoadingRequestJsonContext.Default.LmStudioUnloadRequest);
        using var response = await upstream.PostJsonAsync(UnloadPath, body, timeout);
        if (!response.IsSuccessStatusCode)
        {
            throw await UpstreamErrors.FromStatusAsync(response, upstream.Resolve(UnloadPath), upstream, timeout.Token);
        }
    }

    public static Task<LmStudioDownloadJob> DownloadAsync(UpstreamClient upstream, string model, ActivityTimeout timeout) =>
        SendAsync(upstream, DownloadPath, JsonSerializer.SerializeToUtf8Bytes(new LmStudioDownloadRequest(model, null), LoadingRequestJsonContext.Default.LmStudioDownloadRequest),
            LoadingJsonContext.Default.LmStudioDownloadJob, timeout);

    public static Task<LmStudioDownloadJob> DownloadStatusAsync(UpstreamClient upstream, string jobId, ActivityTimeout timeout) =>
        SendAsync(upstream, DownloadStatusPath + Uri.EscapeDataString(jobId), null, LoadingJsonContext.Default.LmStudioDownloadJob, timeout);

    private static async Task<T> SendAsync<T>(UpstreamClient upstream, string path, byte[]? body, JsonTypeInfo<T> type, ActivityTimeout timeout)
        where T : class
    {
        var url = upstream.Resolve(path);
        using var response = body is null ? await upstream.GetAsync(path, timeout) : await upstream.PostJsonAsync(path, body, timeout);
        if (!response.IsSuccessStatusCode)
        {
            throw await UpstreamErrors.FromStatusAsync(response, url, upstream, timeout.Token);
        }

        byte[] content;
        try
        {
            content = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
        {
            throw UpstreamFailures.Classify(ex, UpstreamStage.Body, timeout, url, upstream);
        }

        // LM Studio answers routes it lacks with 200 and {"error":"Unexpected endpoint or method. …"} (docs/protocol.md §3.2).
        var (error, _) = LooksLikeError(content) ? UpstreamErrors.ParseErrorBody(content) : (null, null);
        if (error is not null)
        {
            throw new UpstreamException(UpstreamFailure.Status, $"LM Studio at {url} answered: {error}", url, 200) { UpstreamMessage = error };
        }

        try
        {
            return JsonSerializer.Deserialize(content, type) ?? throw new JsonException("empty body");
        }
        catch (JsonException ex)
        {
            throw new UpstreamException(UpstreamFailure.InvalidResponse, $"LM Studio at {url} answered with unreadable JSON ({ex.Message}).", url, 200, ex);
        }
    }

    private static bool LooksLikeError(ReadOnlySpan<byte> content)
    {
        try
        {
            var reader = new Utf8JsonReader(content);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("error"u8))
                {
                    return true;
                }

                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Reported by the typed read that follows.
        }

        return false;
    }
}
