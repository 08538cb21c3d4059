using CopilotProxy.Configuration;
using CopilotProxy.Diagnostics;
using CopilotProxy.Health;
using CopilotProxy.Hosting;
using CopilotProxy.Http;
using Microsoft.AspNetCore.Connections;

// `copilot-proxy --check-config FILE` validates a config.yaml and lists what it ignores, without starting anything.
if (args is ["--check-config", var configPath])
{
    return GatewayConfigCheck.Run(configPath, Console.Out);
}

// config.yaml first: its environment_variables are settings too (the environment wins). A bad file or a bad value stops
// here, every problem listed, with exit code 2; `doctor` reports them as ✗ lines instead.
var doctor = args.Length > 0 && args[0] == "doctor";
var clients = args.Length > 0 && args[0] == "clients";
var configResult = GatewayConfigLoader.Load(GatewayConfigLoader.ResolveLocation(Environment.GetEnvironmentVariable), Environment.GetEnvironmentVariable);
var loaded = configResult.Config is { } file
    ? SettingsLoader.Load(SettingsLoader.EnvironmentFirst(Environment.GetEnvironmentVariable, file.EnvironmentVariables))
    : new SettingsResult(null, configResult.Errors.Select(e => e.ToString()).ToList());
if (loaded.Settings is not { } settings)
{
    if (doctor)
    {
        return await Doctor.ReportInvalidSettingsAsync(loaded.Errors, Console.Out);
    }

    foreach (var error in loaded.Errors)
    {
        await Console.Error.WriteLineAsync($"copilot-proxy: {error}");
    }

    return 2;
}

// `copilot-proxy doctor`: the pre-flight checks and more, as ✓/✗ lines with fixes; exits 1 when something is broken.
if (doctor)
{
    return await new Doctor(settings, Console.Out, TimeProvider.System) { Config = configResult.Config }.RunAsync();
}

// `copilot-proxy clients [--json]`: ready-to-paste setups for every client, with each model's limits from the live catalog.
if (clients)
{
    return await ClientsCommand.RunAsync(settings, configResult.Config, args.Contains("--json"), Console.Out, Console.Error);
}

// The container HEALTHCHECK: the chiseled image has no shell or curl, so the binary probes itself.
if (args.Contains("--healthcheck"))
{
    return await HealthProbe.RunAsync(settings);
}

var app = ProxyApp.Build(settings, configResult.Config);
try
{
    await app.RunAsync();
}
catch (IOException ex) when (ex.InnerException is AddressInUseException)
{
    // A bind failure is a setup problem, not a crash: say which port and how to fix it, without a stack trace.
    await Console.Error.WriteLineAsync(
        $"copilot-proxy: {ex.Message} Another program holds the port (a real Ollama on 11434, LiteLLM on 4000, or a second copilot-proxy). Stop it or choose other ports with OLLAMA_PORT / LITELLM_PORT; `copilot-proxy doctor` shows which.");
    return 3;
}

return 0;
