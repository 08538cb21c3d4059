using CopilotProxy.Configuration;

namespace CopilotProxy.Installation;

/// <summary>What <c>copilot-proxy service install|uninstall|status|logs</c> was asked to do.</summary>
public sealed record ServiceOptions
{
    /// <summary>Show what would be written and run, without touching the system.</summary>
    public bool Print { get; init; }

    /// <summary>Another platform's definitions (with <see cref="Print"/> only); null for this machine's.</summary>
    public UserPlatform? Platform { get; init; }

    public ServiceSettings Settings { get; init; } = new();

    /// <summary><c>logs --follow</c>: keep printing new lines.</summary>
    public bool Follow { get; init; }
}

/// <summary>
/// <c>copilot-proxy service …</c>: runs the proxy at login as the user's own service (systemd user unit, launchd agent,
/// Task Scheduler logon task), with no administrator rights. Each verb builds a <see cref="ServicePlan"/> and then prints
/// it (<c>--print</c>) or carries it out.
/// </summary>
public static partial class ServiceCommand
{
    public static async Task<int> InstallAsync(ServiceOptions options, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The service does not run in this folder: a relative --config is made absolute now, while it still means something.
        if (options.Settings.ConfigFile is { } relative && options.Platform is null)
        {
            options = options with { Settings = options.Settings with { ConfigFile = Path.GetFullPath(relative) } };
        }

        if (await PlannerAsync(options, error) is not { } planner)
        {
            return 2;
        }

        var plan = planner.Install(options.Settings);
        if (options.Settings.ConfigFile is null && options.Platform is null && File.Exists("config.yaml"))
        {
            plan = plan with { Notes = [.. plan.Notes, $"The config.yaml in this folder is not the service's: it reads {planner.Layout.Join(planner.Layout.SettingsFolder, "config.yaml")}. Move it there, or install again with --config {Path.GetFullPath("config.yaml")}"] };
        }

        if (options.Print)
        {
            plan.Print(output);
            return 0;
        }

        return await ServiceRunner.RunAsync(plan, output, error);
    }

    public static async Task<int> UninstallAsync(ServiceOptions options, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (await PlannerAsync(options, error) is not { } planner)
        {
            return 2;
        }

        var plan = planner.Uninstall();
        if (options.Print)
        {
            plan.Print(output);
            return 0;
        }

        return await ServiceRunner.RunAsync(plan, output, error);
    }

    /// <summary>Builds the planner for this machine (or, with --print, another platform), or writes why it cannot.</summary>
    internal static async Task<ServicePlanner?> PlannerAsync(ServiceOptions options, TextWriter error)
    {
        var current = SettingsFolder.CurrentPlatform;
        var platform = options.Platform ?? current;
        if (platform != current && !options.Print)
        {
            await error.WriteLineAsync($"copilot-proxy: --platform {platform} only works with --print: this machine runs {current}, and only its own service manager can install a service.");
            return null;
        }

        var environment = platform == current ? Environment.GetEnvironmentVariable : SampleEnvironment(platform);
        if (ServiceLayout.For(platform, environment, await AccountAsync(platform, current), out var layoutError) is not { } layout)
        {
            await error.WriteLineAsync($"copilot-proxy: {layoutError}.");
            return null;
        }

        string? exeError = null;
        var executable = platform == current ? ToolExecutable.Resolve(Environment.ProcessPath, out exeError) : SampleExecutable(platform, environment);
        if (executable is null)
        {
            await error.WriteLineAsync($"copilot-proxy: {exeError}");
            return null;
        }

        var (settings, errors) = EffectiveSettings(options.Settings, layout.Join(layout.SettingsFolder, "config.yaml"), environment);
        if (settings is null)
        {
            foreach (var message in errors)
            {
                await error.WriteLineAsync($"copilot-proxy: {message}");
            }

            return null;
        }

        var apiKey = platform == current ? Environment.GetEnvironmentVariable("API_KEY") is { Length: > 0 } key ? key.Trim() : null : null;
        var keyFileExists = platform == current && File.Exists(layout.KeyFile);
        return new ServicePlanner(layout, executable, apiKey, keyFileExists, settings);
    }

    /// <summary>The settings the service will run with (the given ones, then config.yaml's environment_variables), or every problem with them.</summary>
    private static (ProxySettings? Settings, IReadOnlyList<string> Errors) EffectiveSettings(ServiceSettings given, string folderConfig, Func<string, string?> environment)
    {
        var recorded = given.AsEnvironment().ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        // Only what the unit records, plus the variables that locate the user's folders: the shell's other settings do not
        // reach the service, so they must not shape what install reports.
        string? Service(string name) => recorded.GetValueOrDefault(name) ?? (name is "HOME" or "XDG_CONFIG_HOME" or "APPDATA" ? environment(name) : null);
        // The service runs in the settings folder, so without --config its config.yaml is the one there.
        var location = new ConfigFileLocation(given.ConfigFile ?? folderConfig, IsExplicit: given.ConfigFile is not null);
        var config = GatewayConfigLoader.Load(location, Service);
        if (config.Config is not { } loaded)
        {
            return (null, config.Errors.Select(e => e.ToString()).ToList());
        }

        var result = SettingsLoader.Load(SettingsLoader.EnvironmentFirst(Service, loaded.EnvironmentVariables));
        return (result.Settings, result.Errors);
    }

    /// <summary>A typical user's folders on another platform, for --print: the same user name, the platform's default paths.</summary>
    private static Func<string, string?> SampleEnvironment(UserPlatform platform)
    {
        var user = Environment.UserName;
        return name => (platform, name) switch
        {
            (UserPlatform.Windows, "APPDATA") => $@"C:\Users\{user}\AppData\Roaming",
            (UserPlatform.Windows, "LOCALAPPDATA") => $@"C:\Users\{user}\AppData\Local",
            (UserPlatform.Windows, "USERPROFILE") => $@"C:\Users\{user}",
            (UserPlatform.MacOS, "HOME") => $"/Users/{user}",
            (UserPlatform.Linux, "HOME") => $"/home/{user}",
            _ => null,
        };
    }

    /// <summary>Where <c>dotnet tool install -g</c> puts the command on that platform.</summary>
    private static string SampleExecutable(UserPlatform platform, Func<string, string?> environment) => platform == UserPlatform.Windows
        ? WindowsPath.Combine(environment("USERPROFILE")!, ".dotnet", "tools", "copilot-proxy.exe")
        : $"{environment("HOME")}/.dotnet/tools/copilot-proxy";

    private static async Task<string> AccountAsync(UserPlatform platform, UserPlatform current) => platform switch
    {
        UserPlatform.Windows => $@"{(current == UserPlatform.Windows ? Environment.UserDomainName : Environment.MachineName)}\{Environment.UserName}",
        // launchctl names the per-user domain by the numeric uid; 501 is the first account macOS creates.
        UserPlatform.MacOS when current != UserPlatform.Windows && await ServiceRunner.CaptureAsync(new RunCommand("id", ["-u"])) is (0, var uid) => uid.Trim(),
        UserPlatform.MacOS => "501",
        _ => Environment.UserName,
    };
}
