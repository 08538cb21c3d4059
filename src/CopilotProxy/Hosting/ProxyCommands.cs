using System.CommandLine;

namespace CopilotProxy.Hosting;

/// <summary>
/// What the command line accepts: each command with its description, arguments and options. Program.cs pairs each with
/// its handler. Settings are not options: they stay in the environment and config.yaml (docs/configuration.md), so a
/// command takes options only for what is its own (<c>--json</c>, a file to check, a shell).
/// </summary>
internal static class ProxyCommands
{
    public static readonly Option<bool> Json = new("--json") { Description = "Print the setups as JSON (what GET /clients answers)." };

    public static readonly Argument<string> ConfigFile = new("FILE") { Description = "Path of the config.yaml to check." };

    public static readonly Argument<string> Shell = new Argument<string>("SHELL") { Description = "bash, zsh, fish or pwsh." }
        .AcceptOnlyFromAmong(CompletionScripts.Shells);

    /// <summary>The settings a first run needs, in the usage text; every other one is in docs/configuration.md.</summary>
    public static readonly IReadOnlyList<(string Name, string Meaning)> KeySettings =
    [
        ("LMSTUDIO_URL", "LM Studio's server (default http://localhost:1234)"),
        ("LMSTUDIO_API_KEY", "LM Studio's API token, when it requires authentication"),
        ("OLLAMA_PORT", "the Ollama front door Copilot talks to (default 11434)"),
        ("LITELLM_PORT", "the OpenAI gateway, /health and /metrics (default 4000)"),
        ("HOST", "the address both front doors bind (default 127.0.0.1)"),
        ("API_KEY", "the key clients must send to the gateway (default none)"),
        ("CONFIG_FILE", "a LiteLLM-format config.yaml (default ./config.yaml, else the settings folder's)"),
        ("LOG_LEVEL", "TRACE, DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)"),
        ("LOG_FORMAT", "auto, json or text (default auto)"),
        ("MIN_CONTEXT_LENGTH", "the least context a model is loaded with (default 32768; 0 turns it off)"),
    ];

    public static RootCommand Run() => new(
        "Ollama and OpenAI front doors for LM Studio. With no command it runs the proxy: the Ollama front door on " +
        "OLLAMA_PORT and the OpenAI gateway on LITELLM_PORT, in front of LM Studio at LMSTUDIO_URL.");

    public static Command Doctor() => new(
        "doctor",
        "Check the settings, config.yaml, both ports and LM Studio, and print a fix for every problem. " +
        "Exits 0 when nothing is broken, 1 when something is, 2 when the settings are invalid.");

    public static Command Clients() => new(
        "clients",
        "Print ready-to-paste settings for every client (VS Code Copilot, Continue, Cline, Aider, the SDKs), with each " +
        "model's limits from LM Studio.")
    {
        Json,
    };

    public static Command CheckConfig() => new(
        "check-config",
        "Validate a config.yaml exactly as start-up does and list the keys it ignores, without starting anything. " +
        "Exits 0 when the file is valid, 2 when it is not.")
    {
        Aliases = { "--check-config" },
        Arguments = { ConfigFile },
    };

    public static Command Healthcheck() => new(
        "healthcheck",
        "Probe the running proxy's liveness, for a container HEALTHCHECK (the image has no shell or curl). " +
        "Exits 0 when it answers, 1 when it does not.")
    {
        Aliases = { "--healthcheck" },
    };

    public static Command Completion() => new(
        "completion",
        "Print a shell completion script for bash, zsh, fish or pwsh (docs/install.md says how to load it).")
    {
        Shell,
    };
}
