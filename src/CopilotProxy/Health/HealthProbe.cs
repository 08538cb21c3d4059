using CopilotProxy.Configuration;

namespace CopilotProxy.Health;

/// <summary>
/// <c>copilot-proxy --healthcheck</c>: the container HEALTHCHECK. The chiseled image has no shell and no curl, so the
/// binary probes itself.
/// </summary>
public static class HealthProbe
{
    public static async Task<int> RunAsync(ProxySettings settings)
    {
        var host = settings.Host is "0.0.0.0" or "::" or "localhost" ? "127.0.0.1" : settings.Host;
        var url = new UriBuilder("http", host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host, settings.GatewayPort, "/health/liveliness").Uri;
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await http.GetAsync(url);
            await Console.Out.WriteLineAsync($"{url} -> {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"{url} -> {ex.Message}");
            return 1;
        }
    }
}
