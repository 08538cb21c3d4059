namespace CopilotProxy.Configuration;

/// <summary>
/// <c>copilot-proxy --check-config PATH</c>: validates a config.yaml exactly as startup will, without starting listeners,
/// so a user can test an edit before restarting the proxy.
/// </summary>
internal static class GatewayConfigCheck
{
    /// <summary>Exit code for an invalid configuration, the same as for an invalid setting at startup.</summary>
    public const int InvalidConfigExitCode = 2;

    public static int Run(string path, TextWriter output)
    {
        var result = GatewayConfigLoader.Load(new ConfigFileLocation(path, IsExplicit: true), Environment.GetEnvironmentVariable);
        if (result.Config is not { } config)
        {
            foreach (var error in result.Errors)
            {
                output.WriteLine(error);
            }

            return InvalidConfigExitCode;
        }

        foreach (var ignored in config.Ignored)
        {
            output.WriteLine($"{path}:{ignored.Line}: {ignored.KeyPath}: ignored: {ignored.Reason}");
        }

        var groups = config.Models.Select(m => m.ModelName).Distinct(StringComparer.Ordinal).Count();
        output.WriteLine($"{path}: valid: {config.Models.Count} model entries in {groups} groups");
        return 0;
    }
}
