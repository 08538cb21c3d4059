using CopilotProxy.Hosting;

return await Program.CommandLine().InvokeAsync(args);

internal static partial class Program
{
    /// <summary>
    /// Every command: its declaration (Hosting/ProxyCommands.cs), then its handler. With no command the proxy runs; a
    /// command line that does not parse exits 2 with usage and never starts it. Tests parse README's examples with this.
    /// </summary>
    internal static CommandTable CommandLine() => new(ProxyCommands.Run(), CommandHandlers.RunProxyAsync)
    {
        { ProxyCommands.Doctor(), CommandHandlers.DoctorAsync },
        { ProxyCommands.Clients(), CommandHandlers.ClientsAsync },
        { ProxyCommands.CheckConfig(), CommandHandlers.CheckConfig },
        { ProxyCommands.Healthcheck(), CommandHandlers.HealthcheckAsync },
        { ProxyCommands.Completion(), CommandHandlers.Completion },
    };
}
