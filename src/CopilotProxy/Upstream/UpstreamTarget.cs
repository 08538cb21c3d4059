using CopilotProxy.Configuration;

namespace CopilotProxy.Upstream;

/// <summary>
/// One upstream as the proxy tells them apart: its root URL, where its OpenAI routes live, and the key it is sent.
/// Two config.yaml entries with the same three values share one upstream (one discovery, one health state).
/// </summary>
/// <param name="BaseUrl">The upstream's root, ending in '/'.</param>
/// <param name="OpenAIRoutePrefix"><c>"/v1"</c>, or <c>""</c> when <paramref name="BaseUrl"/> already is the OpenAI root.</param>
/// <param name="ApiKey">Sent as <c>Authorization: Bearer</c>; null sends none.</param>
/// <param name="IsDefault">True for <c>LMSTUDIO_URL</c>, which error messages then name.</param>
public sealed record UpstreamTarget(Uri BaseUrl, string OpenAIRoutePrefix, string? ApiKey, bool IsDefault)
{
    /// <summary>LM Studio's own default port, which config files written for a LiteLLM on the host name.</summary>
    public const int LmStudioDefaultPort = 1234;

    public static UpstreamTarget Default(ProxySettings settings) =>
        new(settings.LmStudioUrl, "/v1", settings.LmStudioApiKey, IsDefault: true);

    /// <summary>
    /// Where an entry's requests go. No <c>api_base</c>, or LM Studio's default address on loopback
    /// (<c>http://localhost:1234/v1</c>, as the original project's file has), means <c>LMSTUDIO_URL</c>: in the container
    /// loopback is the container itself, and <c>LMSTUDIO_URL</c> is where LM Studio really is. Such entries are sent
    /// <c>LMSTUDIO_API_KEY</c>, or their own <c>api_key</c> when that variable is not set.
    /// </summary>
    public static UpstreamTarget For(ModelEntry entry, ProxySettings settings)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(settings);
        if (entry.ApiBase is null || IsLmStudioDefaultAddress(entry))
        {
            return new UpstreamTarget(settings.LmStudioUrl, "/v1", settings.LmStudioApiKey ?? entry.ApiKey, IsDefault: true);
        }

        var root = entry.ApiBase.AbsoluteUri.EndsWith('/') ? entry.ApiBase : new Uri(entry.ApiBase.AbsoluteUri + "/");
        return new UpstreamTarget(root, entry.OpenAIRoutePrefix, entry.ApiKey, IsDefault: false);
    }

    /// <summary>True when the entry names <c>http://localhost:1234</c> (or 127.0.0.1, ::1), with or without <c>/v1</c>.</summary>
    public static bool IsLmStudioDefaultAddress(ModelEntry entry) =>
        entry.ApiBase is { } b && b.IsLoopback && b.Port == LmStudioDefaultPort && b.Scheme == Uri.UriSchemeHttp
        && b.AbsolutePath == "/" && entry.OpenAIRoutePrefix == "/v1";

    public override string ToString() => OpenAIRoutePrefix == "/v1" ? BaseUrl.ToString() : new Uri(BaseUrl, OpenAIRoutePrefix.TrimStart('/')).ToString();
}
