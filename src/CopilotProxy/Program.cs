using CopilotProxy.Configuration;
using CopilotProxy.Health;
using CopilotProxy.Hosting;

// `copilot-proxy --check-config FILE` validates a config.yaml and lists what it ignores, without starting anything.
if (args is ["--check-config", var configPath])
{
    return GatewayConfigCheck.Run(configPath, Console.Out);
}

// config.yaml first: its environment_variables are settings too. A bad file stops here, every problem listed, exit code 2.
Func<string, string?> environment = Environment.GetEnvironmentVariable;
var configResult = GatewayConfigLoader.Load(GatewayConfigLoader.ResolveLocation(environment), environment);
if (configResult.Config is not { } config)
{
    foreach (var error in configResult.Errors)
    {
        await Console.Error.WriteLineAsync($"copilot-proxy: {error}");
    }

    return GatewayConfigCheck.InvalidConfigExitCode;
}

// Settings come from the environment, then the file's environment_variables (the environment wins); bad values stop here too.
var loaded = SettingsLoader.Load(name => environment(name) ?? config.EnvironmentVariables.GetValueOrDefault(name));
if (loaded.Settings is not { } settings)
{
    foreach (var error in loaded.Errors)
    {
        await Console.Error.WriteLineAsync($"copilot-proxy: {error}");
    }

    return 2;
}

// The container HEALTHCHECK: the chiseled image has no shell or curl, so the binary probes itself.
if (args.Contains("--healthcheck"))
{
    return await HealthProbe.RunAsync(settings);
}

var app = ProxyApp.Build(settings, config);
await app.RunAsync();
return 0;
