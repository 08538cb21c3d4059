using System.Globalization;
using CopilotProxy.Configuration;

namespace CopilotProxy.Installation;

/// <summary>The settings <c>service install</c> was given on its command line; each one that is set is recorded in the unit.</summary>
public sealed record ServiceSettings
{
    /// <summary>As given; SettingsLoader validates it as LMSTUDIO_URL, and the proxy normalises it at start.</summary>
    public string? LmStudioUrl { get; init; }
    public int? OllamaPort { get; init; }
    public int? GatewayPort { get; init; }

    /// <summary>An absolute path (the service does not run in the folder install was run in).</summary>
    public string? ConfigFile { get; init; }

    /// <summary>The settings as the proxy's environment variables, in the order the docs list them.</summary>
    public IEnumerable<KeyValuePair<string, string>> AsEnvironment()
    {
        if (LmStudioUrl is { } url)
        {
            yield return new("LMSTUDIO_URL", url);
        }

        if (GatewayPort is { } gateway)
        {
            yield return new("LITELLM_PORT", gateway.ToString(CultureInfo.InvariantCulture));
        }

        if (OllamaPort is { } ollama)
        {
            yield return new("OLLAMA_PORT", ollama.ToString(CultureInfo.InvariantCulture));
        }

        if (ConfigFile is { } config)
        {
            yield return new("CONFIG_FILE", config);
        }
    }
}

/// <summary>Turns a layout and the given settings into the plans of <c>service install</c> and <c>service uninstall</c>.</summary>
/// <param name="Executable">The command the service starts.</param>
/// <param name="ApiKey">API_KEY at install time, moved into the key file; null keeps an existing key file as it is.</param>
/// <param name="KeyFileExists">Whether the settings folder already holds a key file the unit should name.</param>
/// <param name="Settings">The effective settings the service will run with (ports for the notes, the drain for the stop timeout).</param>
public sealed record ServicePlanner(ServiceLayout Layout, string Executable, string? ApiKey, bool KeyFileExists, ProxySettings Settings)
{
    private static readonly string[] JournalArguments = ["--user", "--unit", ServiceName.Value + ".service", "--lines=200", "--no-pager"];

    private string Label => $"gui/{Layout.Account}/{ServiceName.Value}";

    /// <summary>The unit's content, as <c>install</c> writes it.</summary>
    public ServiceUnit Unit(ServiceSettings given)
    {
        ArgumentNullException.ThrowIfNull(given);
        var environment = given.AsEnvironment().ToList();
        if (ApiKey is not null || KeyFileExists)
        {
            environment.Add(new("API_KEY_FILE", Layout.KeyFile));
        }

        if (Layout.LogFolder is { } logs)
        {
            environment.Add(new("LOG_DIR", logs));
        }

        // The service manager's stop timeout must outlast the proxy's own drain, or it kills streams the drain would end cleanly.
        var stop = (int)Math.Ceiling(Http.ShutdownDrain.HostShutdownTimeout(Settings).TotalSeconds) + 5;
        return new ServiceUnit(Executable, Layout.SettingsFolder, environment, stop, Layout.LogFolder, Layout.Account);
    }

    public ServicePlan Install(ServiceSettings given)
    {
        var unit = Unit(given);
        var steps = new List<ServiceStep> { new CreateFolder(Layout.SettingsFolder), new CreateFolder(Layout.FolderOf(Layout.DefinitionPath)) };
        if (Layout.LogFolder is { } logs)
        {
            steps.Add(new CreateFolder(logs));
        }

        if (ApiKey is not null)
        {
            steps.Add(new WriteFile(Layout.KeyFile, ApiKey + "\n", Secret: true));
        }

        var notes = new List<string>();
        switch (Layout.Platform)
        {
            case UserPlatform.Linux:
                steps.Add(new WriteFile(Layout.DefinitionPath, SystemdUnit.Render(unit)));
                steps.Add(Systemctl("daemon-reload"));
                steps.Add(Systemctl("enable", ServiceName.Value + ".service"));
                // restart, not start: a second install with other settings must replace the running process.
                steps.Add(Systemctl("restart", ServiceName.Value + ".service"));
                notes.Add("It starts when you log in. To keep it running after you log out, and start it at boot: loginctl enable-linger " + Layout.Account);
                break;
            case UserPlatform.MacOS:
                steps.Add(new WriteFile(Layout.DefinitionPath, LaunchdAgent.Render(unit)));
                steps.Add(new RunCommand("launchctl", ["bootout", Label], MayFail: true));
                steps.Add(new RunCommand("launchctl", ["bootstrap", $"gui/{Layout.Account}", Layout.DefinitionPath]));
                notes.Add($"It starts when you log in. Logs: {Layout.LogFolder}");
                break;
            default:
                steps.Add(new WriteFile(Layout.DefinitionPath, ScheduledTask.Render(unit), Utf16: true));
                steps.Add(new RunCommand("schtasks", ["/End", "/TN", ServiceName.Value], MayFail: true));
                steps.Add(new RunCommand("schtasks", ["/Create", "/TN", ServiceName.Value, "/XML", Layout.DefinitionPath, "/F"]));
                steps.Add(new RunCommand("schtasks", ["/Run", "/TN", ServiceName.Value]));
                notes.Add($"It starts when you log on. Logs: {Layout.LogFolder}");
                break;
        }

        notes.Add(VsCodeNote(unit));
        notes.Add("Check it with: copilot-proxy service status");
        return new ServicePlan(steps, notes);
    }

    public ServicePlan Uninstall()
    {
        var steps = new List<ServiceStep>();
        switch (Layout.Platform)
        {
            case UserPlatform.Linux:
                steps.Add(Systemctl("disable", "--now", ServiceName.Value + ".service") with { MayFail = true });
                steps.Add(new DeleteFile(Layout.DefinitionPath));
                steps.Add(Systemctl("daemon-reload") with { MayFail = true });
                break;
            case UserPlatform.MacOS:
                steps.Add(new RunCommand("launchctl", ["bootout", Label], MayFail: true));
                steps.Add(new DeleteFile(Layout.DefinitionPath));
                break;
            default:
                steps.Add(new RunCommand("schtasks", ["/End", "/TN", ServiceName.Value], MayFail: true));
                steps.Add(new RunCommand("schtasks", ["/Delete", "/TN", ServiceName.Value, "/F"], MayFail: true));
                steps.Add(new DeleteFile(Layout.DefinitionPath));
                break;
        }

        steps.Add(new DeleteFile(Layout.KeyFile));
        var kept = Layout.LogFolder is { } logs ? $"{Layout.SettingsFolder} (your config.yaml) and {logs}" : $"{Layout.SettingsFolder} (your config.yaml)";
        return new ServicePlan(steps, [$"Kept: {kept}; delete them by hand if you no longer want them."]);
    }

    /// <summary>What the service manager says about the service, for <c>service status</c>.</summary>
    public RunCommand Status() => Layout.Platform switch
    {
        UserPlatform.Linux => Systemctl("status", "--no-pager", "--lines=0", ServiceName.Value + ".service") with { MayFail = true },
        UserPlatform.MacOS => new RunCommand("launchctl", ["print", Label], MayFail: true),
        _ => new RunCommand("schtasks", ["/Query", "/TN", ServiceName.Value, "/FO", "LIST"], MayFail: true),
    };

    /// <summary>The journal on Linux; elsewhere <c>service logs</c> reads the log folder's files itself.</summary>
    public RunCommand? Logs(bool follow) => Layout.Platform == UserPlatform.Linux
        ? new RunCommand("journalctl", follow ? [.. JournalArguments, "--follow"] : JournalArguments)
        : null;

    /// <summary>The settings recorded in an installed definition, read back for <c>status</c>.</summary>
    public IReadOnlyDictionary<string, string> RecordedEnvironment(string definitionText) => Layout.Platform switch
    {
        UserPlatform.Linux => SystemdUnit.ReadEnvironment(definitionText),
        UserPlatform.MacOS => LaunchdAgent.ReadEnvironment(definitionText),
        _ => ScheduledTask.ReadEnvironment(definitionText),
    };

    private string VsCodeNote(ServiceUnit unit)
    {
        var ollama = unit.Environment.FirstOrDefault(e => e.Key == "OLLAMA_PORT").Value ?? Settings.OllamaPort.ToString(CultureInfo.InvariantCulture);
        var gateway = unit.Environment.FirstOrDefault(e => e.Key == "LITELLM_PORT").Value ?? Settings.GatewayPort.ToString(CultureInfo.InvariantCulture);
        return $"VS Code: Copilot Chat > Manage Models > Ollama, URL http://localhost:{ollama} (OpenAI clients: http://localhost:{gateway}/v1)";
    }

    private static RunCommand Systemctl(params string[] arguments) => new("systemctl", ["--user", .. arguments]);
}
