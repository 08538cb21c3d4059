using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Diagnostics;

/// <summary>
/// <c>copilot-proxy doctor</c>: the pre-flight checks plus ports, config file and, when a proxy is already running, its own
/// endpoints as Copilot calls them. Prints one ✓/✗ line per finding with a fix under each ✗, each as soon as it is known.
/// </summary>
public sealed class Doctor(ProxySettings settings, TextWriter output, TimeProvider time)
{
    /// <summary>The response header the proxy sets on every answer (RFC 9110 Via), so doctor can tell its ports from another program's.</summary>
    public const string ViaValue = "1.1 copilot-proxy";

    private static readonly Version MinCopilotOllamaVersion = new(0, 6, 4);

    private readonly List<Check> _checks = [];

    /// <summary>The config.yaml already loaded (and validated) at start-up, if any.</summary>
    public GatewayConfig? Config { get; init; }

    /// <summary>Runs every check; returns 0 when nothing is broken, 1 otherwise.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        await output.WriteLineAsync($"copilot-proxy doctor {ProductVersion.Current}");
        Report(Check.Pass("Settings valid"));
        CheckConfigFile();

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(3) }) { Timeout = TimeSpan.FromSeconds(10) };
        var ollamaOurs = await CheckPortAsync(http, "OLLAMA_PORT", settings.OllamaPort, cancellationToken);
        var gatewayOurs = await CheckPortAsync(http, "LITELLM_PORT", settings.GatewayPort, cancellationToken);

        // Discovery may wait seconds for a busy or absent LM Studio: say what is happening rather than sit silent.
        Progress($"asking LM Studio at {settings.LmStudioUrl} for its models");
        foreach (var check in await UpstreamAsync())
        {
            Report(check);
        }

        if (ollamaOurs)
        {
            Progress(string.Create(CultureInfo.InvariantCulture, $"calling the running proxy on port {settings.OllamaPort} as Copilot does"));
            await CheckCopilotHandshakeAsync(http, cancellationToken);
        }

        if (gatewayOurs)
        {
            await CheckReadinessAsync(http, cancellationToken);
        }

        if (!ollamaOurs && !gatewayOurs)
        {
            Report(Check.Info("The proxy is not running here: its endpoints were not checked (start copilot-proxy and run doctor again to check them)"));
        }

        Report(Check.Info(UpstreamChecks.VsCodeSetting(settings)));
        var problems = _checks.Count(c => c.Status == CheckStatus.Fail);
        await output.WriteLineAsync(problems == 0 ? "No problems found." : $"{problems} problem(s) found.");
        return problems == 0 ? 0 : 1;
    }

    /// <summary>Doctor's output when the settings themselves are invalid: one ✗ per bad variable; nothing else can be checked.</summary>
    public static async Task<int> ReportInvalidSettingsAsync(IReadOnlyList<string> errors, TextWriter output)
    {
        await output.WriteLineAsync("copilot-proxy doctor");
        foreach (var error in errors)
        {
            await output.WriteLineAsync($"✗ {error}");
            await output.WriteLineAsync("    fix: correct the variable as the message says, then run doctor again");
        }

        await output.WriteLineAsync($"{errors.Count} problem(s) found.");
        return 2;
    }

    private void Report(Check check)
    {
        _checks.Add(check);
        output.WriteLine($"{check.Symbol} {check.Title}");
        if (check.Fix is { } fix)
        {
            output.WriteLine($"    fix: {fix}");
        }

        output.Flush();
    }

    /// <summary>A line before a step that may take a while; each check's own line follows as soon as it is known.</summary>
    private void Progress(string what)
    {
        output.WriteLine($"… {what}");
        output.Flush();
    }

    private void CheckConfigFile()
    {
        // An invalid file never gets here: Program reports its errors as ✗ lines before settings exist.
        if (Config is not { IsFilePresent: true } config)
        {
            Report(Check.Info($"No config file ({Config?.SourcePath ?? "config.yaml"} absent): models come from LM Studio's own list"));
            return;
        }

        Report(Check.Pass(string.Create(CultureInfo.InvariantCulture,
            $"Config file {config.SourcePath} is valid: {config.Models.Count} model entries, {config.Ignored.Count} ignored key(s)")));
    }

    private async Task<IReadOnlyList<Check>> UpstreamAsync()
    {
        using var upstreams = new UpstreamRegistry(settings);
        var catalog = new ModelCatalog(upstreams, new GatewayConfigHolder(Config ?? GatewayConfig.Empty), settings, time, NullLogger<ModelCatalog>.Instance);
        try
        {
            var snapshot = await catalog.RefreshAsync();
            return UpstreamChecks.Evaluate(settings, snapshot, null);
        }
        catch (UpstreamException failure)
        {
            return UpstreamChecks.Evaluate(settings, null, failure);
        }
    }

    /// <summary>A port is fine when it is free, or when our own proxy holds it; anything else there would make start-up fail.</summary>
    private async Task<bool> CheckPortAsync(HttpClient http, string variable, int port, CancellationToken cancellationToken)
    {
        var address = settings.BindAddress ?? IPAddress.Loopback;
        try
        {
            using var listener = new TcpListener(address, port);
            listener.Start();
            listener.Stop();
            Report(Check.Pass(string.Create(CultureInfo.InvariantCulture, $"Port {port} ({variable}) is free")));
            return false;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // Taken: by us (fine) or by someone else (LiteLLM, a real Ollama, a second proxy on other settings).
        }
        catch (SocketException ex)
        {
            Report(Check.Fail(string.Create(CultureInfo.InvariantCulture, $"Port {port} ({variable}) can't be bound on {address}: {ex.Message}"),
                $"Choose another port, e.g. {variable}={port + 1}, or check HOST (now {settings.Host})."));
            return false;
        }

        var host = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ProbeAddress(address)}]" : ProbeAddress(address).ToString();
        try
        {
            using var response = await http.GetAsync(new Uri($"http://{host}:{port}/"), cancellationToken);
            if (response.Headers.Via.Any(v => v.ToString() == ViaValue))
            {
                Report(Check.Pass(string.Create(CultureInfo.InvariantCulture, $"Port {port} ({variable}) is held by a running copilot-proxy")));
                return true;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            // Not HTTP at all: certainly not ours.
        }

        Report(Check.Fail(string.Create(CultureInfo.InvariantCulture, $"Port {port} ({variable}) is in use by another program"),
            string.Create(CultureInfo.InvariantCulture,
                $"Stop that program (a real Ollama uses 11434, LiteLLM 4000; `ss -ltnp 'sport = :{port}'` names it) or set {variable} to a free port, e.g. {variable}={port + 1}.")));
        return false;
    }

    /// <summary>The three calls Copilot's Ollama provider makes before it lists a model (docs/protocol.md §1.2), against the running proxy.</summary>
    private async Task CheckCopilotHandshakeAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var baseUrl = $"http://{ProbeHost()}:{settings.OllamaPort}";
        var version = await GetJsonAsync(http, $"{baseUrl}/api/version", null, cancellationToken);
        var reported = version?.RootElement.ValueKind == JsonValueKind.Object && version.RootElement.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        version?.Dispose();
        if (reported is not null && Version.TryParse(reported, out var parsed) && (parsed >= MinCopilotOllamaVersion || reported == "0.0.0"))
        {
            Report(Check.Pass($"/api/version answers {reported} (Copilot needs ≥ 0.6.4)"));
        }
        else
        {
            Report(Check.Fail($"/api/version answers {reported ?? "no version"}: Copilot lists no models below 0.6.4", "Unset OLLAMA_VERSION or set it to 0.6.4 or later."));
            return;
        }

        using var tags = await GetJsonAsync(http, $"{baseUrl}/api/tags", null, cancellationToken);
        if (tags?.RootElement.ValueKind != JsonValueKind.Object || !tags.RootElement.TryGetProperty("models", out var models) || models.ValueKind != JsonValueKind.Array)
        {
            Report(Check.Fail("/api/tags did not answer a model list: Copilot shows no models",
                "Check the line above about LM Studio; /api/tags lists what LM Studio serves."));
            return;
        }

        var names = models.EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Object && m.TryGetProperty("model", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null)
            .OfType<string>().ToList();
        Report(Check.Pass(string.Create(CultureInfo.InvariantCulture, $"/api/tags lists {names.Count} model(s)")));

        var withTools = new List<string>();
        foreach (var name in names)
        {
            var body = Encoding.UTF8.GetBytes($"{{\"model\":{JsonSerializer.Serialize(name, DoctorJsonContext.Default.String)}}}");
            using var show = await GetJsonAsync(http, $"{baseUrl}/api/show", body, cancellationToken);
            if (show?.RootElement.ValueKind != JsonValueKind.Object || !show.RootElement.TryGetProperty("capabilities", out var capabilities) || capabilities.ValueKind != JsonValueKind.Array)
            {
                Report(Check.Fail($"/api/show for {name} has no \"capabilities\": Copilot skips this model", "Run doctor again; if it persists, report it with the proxy's log."));
                continue;
            }

            if (capabilities.EnumerateArray().Any(c => c.ValueKind == JsonValueKind.String && c.GetString() == "tools"))
            {
                withTools.Add(name);
            }
        }

        if (names.Count > 0)
        {
            Report(withTools.Count > 0
                ? Check.Pass($"/api/show reports \"tools\" for {string.Join(", ", withTools)}: they appear in Agent mode")
                : Check.Fail("/api/show reports \"tools\" for no model: Agent mode will list none", "Load a model trained for tool use in LM Studio."));
        }
    }

    private async Task CheckReadinessAsync(HttpClient http, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(new Uri($"http://{ProbeHost()}:{settings.GatewayPort}/health/readiness"), cancellationToken);
            Report(response.IsSuccessStatusCode
                ? Check.Pass("The running proxy reports ready (/health/readiness 200)")
                : Check.Fail(string.Create(CultureInfo.InvariantCulture, $"The running proxy reports not ready (/health/readiness {(int)response.StatusCode})"),
                    "It is waiting for LM Studio or shutting down; see the LM Studio line above and the proxy's log."));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Report(Check.Fail($"The running proxy's readiness check failed: {ex.Message}", "Look at the proxy's log."));
        }
    }

    private static async Task<JsonDocument?> GetJsonAsync(HttpClient http, string url, byte[]? postBody, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(postBody is null ? HttpMethod.Get : HttpMethod.Post, url);
            if (postBody is not null)
            {
                request.Content = new ByteArrayContent(postBody);
                request.Content.Headers.ContentType = new("application/json");
            }

            using var response = await http.SendAsync(request, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return await JsonDocument.ParseAsync(body, default, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    private string ProbeHost()
    {
        var address = ProbeAddress(settings.BindAddress ?? IPAddress.Loopback);
        return address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
    }

    /// <summary>A wildcard bind is probed on loopback: the proxy answers there too.</summary>
    private static IPAddress ProbeAddress(IPAddress bind) =>
        bind.Equals(IPAddress.Any) ? IPAddress.Loopback : bind.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : bind;
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class DoctorJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
