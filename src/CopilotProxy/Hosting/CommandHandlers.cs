using System.CommandLine;
using CopilotProxy.Configuration;
using CopilotProxy.Diagnostics;
using CopilotProxy.Health;

namespace CopilotProxy.Hosting;

/// <summary>What each command of <see cref="ProxyCommands"/> does once the command line has parsed.</summary>
internal static class CommandHandlers
{
    /// <summary>The default command: the proxy itself, until SIGTERM/SIGINT.</summary>
    public static Task<int> RunProxyAsync(ParseResult parsed, CancellationToken cancellationToken) =>
        WithSettingsAsync(async (settings, config) =>
        {
            var app = ProxyApp.Build(settings, config);
            try
            {
                await app.RunAsync();
            }
            catch (Exception ex) when (StartFailures.Explain(ex, settings) is { } why)
            {
                await Console.Error.WriteLineAsync($"copilot-proxy: {why}");
                return 3;
            }
            catch (Exception ex) when (!app.Lifetime.ApplicationStarted.IsCancellationRequested)
            {
                // The host does not log its own start failure here (LineLogger.IsHostStartFailure); this is where it is said.
                await Console.Error.WriteLineAsync($"copilot-proxy: could not start: {ex}");
                return 1;
            }

            return 0;
        });

    /// <summary>The pre-flight checks and more, as ✓/✗ lines with fixes; invalid settings are reported as ✗ lines too.</summary>
    public static Task<int> DoctorAsync(ParseResult parsed, CancellationToken cancellationToken) =>
        WithSettingsAsync(
            (settings, config) => new Doctor(settings, Console.Out, TimeProvider.System) { Config = config }.RunAsync(cancellationToken),
            errors => Doctor.ReportInvalidSettingsAsync(errors, Console.Out));

    /// <summary>Ready-to-paste setups for every client, with each model's limits from the live catalog.</summary>
    public static Task<int> ClientsAsync(ParseResult parsed, CancellationToken cancellationToken) =>
        WithSettingsAsync((settings, config) =>
            ClientsCommand.RunAsync(settings, config, parsed.GetValue(ProxyCommands.Json), Console.Out, Console.Error, cancellationToken));

    /// <summary>Validates a config.yaml and lists what it ignores; reads no environment, so any file can be checked.</summary>
    public static int CheckConfig(ParseResult parsed) =>
        GatewayConfigCheck.Run(parsed.GetRequiredValue(ProxyCommands.ConfigFile), Console.Out);

    /// <summary>The container HEALTHCHECK: the chiseled image has no shell or curl, so the binary probes itself.</summary>
    public static Task<int> HealthcheckAsync(ParseResult parsed, CancellationToken cancellationToken) =>
        WithSettingsAsync((settings, _) => HealthProbe.RunAsync(settings));

    public static int Completion(ParseResult parsed)
    {
        Console.Out.Write(CompletionScripts.For(parsed.GetRequiredValue(ProxyCommands.Shell)));
        return 0;
    }

    /// <summary>
    /// config.yaml first: its environment_variables are settings too (the environment wins). A bad file or a bad value
    /// stops here, every problem listed, with exit code 2, unless the command reports them its own way.
    /// </summary>
    private static async Task<int> WithSettingsAsync(
        Func<ProxySettings, GatewayConfig?, Task<int>> command, Func<IReadOnlyList<string>, Task<int>>? reportInvalid = null)
    {
        var configResult = GatewayConfigLoader.Load(GatewayConfigLoader.ResolveLocation(Environment.GetEnvironmentVariable), Environment.GetEnvironmentVariable);
        var loaded = configResult.Config is { } file
            ? SettingsLoader.Load(SettingsLoader.EnvironmentFirst(Environment.GetEnvironmentVariable, file.EnvironmentVariables))
            : new SettingsResult(null, configResult.Errors.Select(e => e.ToString()).ToList());
        if (loaded.Settings is { } settings)
        {
            return await command(settings, configResult.Config);
        }

        if (reportInvalid is not null)
        {
            return await reportInvalid(loaded.Errors);
        }

        foreach (var error in loaded.Errors)
        {
            await Console.Error.WriteLineAsync($"copilot-proxy: {error}");
        }

        return 2;
    }
}
