using System.CommandLine;
using CopilotProxy.Configuration;
using CopilotProxy.Installation;

namespace CopilotProxy.Hosting;

/// <summary>
/// <c>copilot-proxy service install|uninstall|status|logs</c>: the declarations of the service commands and their one-line
/// handlers over <see cref="ServiceCommand"/>. The options record settings in the service (each names the variable it
/// becomes); everything else stays in config.yaml and the environment.
/// </summary>
internal static class ServiceCommands
{
    private static readonly Option<bool> Print = new("--print") { Description = "Show what would be written and run, without touching the system." };

    private static readonly Option<string> Platform = new Option<string>("--platform")
    {
        Description = "With --print: show another system's service (linux, macos or windows).",
    }.AcceptOnlyFromAmong("linux", "macos", "windows");

    private static readonly Option<string> LmStudioUrl = new("--lmstudio-url") { Description = "LM Studio's server, recorded as LMSTUDIO_URL (default http://localhost:1234)." };

    private static readonly Option<int?> OllamaPort = new("--ollama-port") { Description = "The Ollama front door's port, recorded as OLLAMA_PORT (default 11434)." };

    private static readonly Option<int?> LiteLlmPort = new("--litellm-port") { Description = "The OpenAI gateway's port, recorded as LITELLM_PORT (default 4000)." };

    private static readonly Option<string> Config = new("--config") { Description = "The service's config.yaml, recorded as CONFIG_FILE (default: config.yaml in the settings folder)." };

    private static readonly Option<bool> Follow = new("--follow", "-f") { Description = "Keep printing new lines until Ctrl+C." };

    public static Command Service()
    {
        var service = new Command(
            "service",
            "Run the proxy now and at every login as your own service (systemd user unit, launchd agent, Task Scheduler " +
            "logon task), with no administrator rights. docs/install.md says what each system gets.");
        Add(service, new Command("install", "Write the service with the given settings, register it and start it. API_KEY, when set, goes to a file readable by you alone, never into the service definition.")
        {
            Print, Platform, LmStudioUrl, OllamaPort, LiteLlmPort, Config,
        }, (options, _) => ServiceCommand.InstallAsync(options, Console.Out, Console.Error));
        Add(service, new Command("uninstall", "Stop the service and remove everything install wrote (config.yaml and the logs stay).") { Print, Platform },
            (options, _) => ServiceCommand.UninstallAsync(options, Console.Out, Console.Error));
        Add(service, new Command("status", "Say whether the service is installed and running, whether the proxy answers, and the URLs for VS Code. Exits 0 when it answers, 1 when it does not.") { Print, Platform },
            (options, _) => ServiceCommand.StatusAsync(options, Console.Out, Console.Error));
        Add(service, new Command("logs", "Print the service's last 200 log lines (the journal on Linux, the log folder elsewhere).") { Print, Platform, Follow },
            (options, token) => ServiceCommand.LogsAsync(options, Console.Out, Console.Error, token));
        return service;
    }

    /// <summary><c>copilot-proxy service</c> alone: which verbs there are, exit 2 as for any incomplete command line.</summary>
    public static int ChooseOne(ParseResult parsed)
    {
        Console.Error.WriteLine("copilot-proxy service: say what to do: install, uninstall, status or logs (copilot-proxy service --help describes each).");
        return CommandTable.UsageError;
    }

    private static void Add(Command parent, Command command, Func<ServiceOptions, CancellationToken, Task<int>> handler)
    {
        command.SetAction((parsed, token) => handler(OptionsOf(parsed), token));
        parent.Add(command);
    }

    private static ServiceOptions OptionsOf(ParseResult parsed) => new()
    {
        Print = Value(parsed, Print),
        Platform = Value(parsed, Platform) switch
        {
            "linux" => UserPlatform.Linux,
            "macos" => UserPlatform.MacOS,
            "windows" => UserPlatform.Windows,
            _ => null,
        },
        Settings = new ServiceSettings
        {
            LmStudioUrl = Value(parsed, LmStudioUrl),
            OllamaPort = Value(parsed, OllamaPort),
            GatewayPort = Value(parsed, LiteLlmPort),
            ConfigFile = Value(parsed, Config),
        },
        Follow = Value(parsed, Follow),
    };

    /// <summary>The option's value when the parsed command has it; the default otherwise (the verbs share option objects).</summary>
    private static T? Value<T>(ParseResult parsed, Option<T> option) =>
        parsed.CommandResult.Command.Options.Contains(option) ? parsed.GetValue(option) : default;
}
