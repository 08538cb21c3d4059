using CopilotProxy.Configuration;
using CopilotProxy.Health;
using CopilotProxy.Hosting;

// `copilot-proxy --check-config FILE` validates a config.yaml and lists what it ignores, without starting anything.
if (args is ["--check-config", var configPath])
{
    return GatewayConfigCheck.Run(configPath, Console.Out);
}

// Settings come from the environment; bad values stop here, one message per problem, with exit code 2.
var loaded = SettingsLoader.Load(Environment.GetEnvironmentVariable);
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

var app = ProxyApp.Build(settings);
await app.RunAsync();
return 0;
