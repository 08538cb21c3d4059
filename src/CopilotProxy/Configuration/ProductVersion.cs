using System.Reflection;

namespace CopilotProxy.Configuration;

/// <summary>
/// The one version string a person sees: <c>copilot-proxy --version</c>, the start-up log line, <c>doctor</c>'s header and
/// the dashboard all say this, so a bug report quoting any of them names the same build.
/// </summary>
public static class ProductVersion
{
    /// <summary>The informational version without build metadata: <c>1.2.0-rc.1</c> keeps its prerelease label.</summary>
    public static string Current { get; } = Read();

    private static string Read()
    {
        var assembly = typeof(ProductVersion).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

        // The SDK appends "+<commit>" (SourceLink); that names the source, not the release a person compares with.
        return informational?.Split('+')[0] ?? assembly.GetName().Version?.ToString(3) ?? "0.0.0";
    }
}
