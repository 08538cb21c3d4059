namespace CopilotProxy.Installation;

/// <summary>The command a service should start: the installed tool's stable path, not the version folder it runs from.</summary>
public static class ToolExecutable
{
    /// <summary>
    /// The path to record for <paramref name="processPath"/> (Environment.ProcessPath), or null with the reason: a process run
    /// by the <c>dotnet</c> host or from the NuGet cache (<c>dnx</c>) has no path that will still be there after an update.
    /// </summary>
    public static string? Resolve(string? processPath, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(processPath))
        {
            error = "the path of this program is unknown, so the service would not know what to start.";
            return null;
        }

        var name = Path.GetFileNameWithoutExtension(processPath);
        if (name.Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            error = "this copilot-proxy runs through the dotnet host (dotnet run, or dotnet copilot-proxy.dll), which a service cannot start on its own. Install the tool (dotnet tool install -g copilot-proxy) or use the release binary, then run `copilot-proxy service install` from it.";
            return null;
        }

        var separator = Path.DirectorySeparatorChar;
        if (processPath.Contains($"{separator}.nuget{separator}packages{separator}", StringComparison.OrdinalIgnoreCase)
            || (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } cache && processPath.StartsWith(cache, StringComparison.Ordinal)))
        {
            error = "this copilot-proxy runs from the NuGet cache (dnx), which is cleaned and replaced on update. Install it first: dotnet tool install -g copilot-proxy, then run `copilot-proxy service install`.";
            return null;
        }

        // A tool installed with `dotnet tool install` runs from <tools>/.store/copilot-proxy/<version>/…; the command on the
        // PATH is <tools>/copilot-proxy, which `dotnet tool update` re-points at the new version.
        var store = processPath.IndexOf($"{separator}.store{separator}", StringComparison.Ordinal);
        return store < 0 ? processPath : Path.Combine(processPath[..store], ServiceName.Value + (OperatingSystem.IsWindows() ? ".exe" : string.Empty));
    }
}
