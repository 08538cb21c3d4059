namespace CopilotProxy.Configuration;

/// <summary>The desktop operating systems the proxy installs itself on, each with its own folders and service manager.</summary>
public enum UserPlatform
{
    Linux,
    MacOS,
    Windows,
}

/// <summary>
/// The per-user folder where <c>config.yaml</c> and the gateway key file live when they are not in the working directory:
/// <c>$XDG_CONFIG_HOME/copilot-proxy</c> (else <c>~/.config/copilot-proxy</c>) on Linux,
/// <c>~/Library/Application Support/copilot-proxy</c> on macOS, <c>%APPDATA%\copilot-proxy</c> on Windows.
/// </summary>
/// <remarks>
/// Every path comes from the environment function, never from the process's own environment, so tests (and
/// <c>service install --print --platform …</c>) can resolve another user's or another system's folders.
/// </remarks>
public static class SettingsFolder
{
    public const string Name = "copilot-proxy";

    /// <summary>The gateway key file's name inside the folder (<c>API_KEY_FILE</c>'s default).</summary>
    public const string KeyFileName = "api-key";

    public static UserPlatform CurrentPlatform =>
        OperatingSystem.IsWindows() ? UserPlatform.Windows : OperatingSystem.IsMacOS() ? UserPlatform.MacOS : UserPlatform.Linux;

    /// <summary>The folder for <paramref name="platform"/>; null when the environment names no home (HOME, or APPDATA on Windows).</summary>
    public static string? Resolve(UserPlatform platform, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (platform == UserPlatform.Windows)
        {
            return NonEmpty(environment("APPDATA")) is { } appData ? WindowsPath.Combine(appData, Name) : null;
        }

        // XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored (XDG Base Directory Specification).
        if (platform == UserPlatform.Linux && NonEmpty(environment("XDG_CONFIG_HOME")) is { } xdg && xdg.StartsWith('/'))
        {
            return $"{xdg.TrimEnd('/')}/{Name}";
        }

        if (NonEmpty(environment("HOME")) is not { } home)
        {
            return null;
        }

        return platform == UserPlatform.MacOS
            ? $"{home.TrimEnd('/')}/Library/Application Support/{Name}"
            : $"{home.TrimEnd('/')}/.config/{Name}";
    }

    /// <summary>The folder for this machine and user, from the process environment.</summary>
    public static string? ForCurrentUser() => Resolve(CurrentPlatform, Environment.GetEnvironmentVariable);

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>Windows paths built on any OS (Path.Combine would use this machine's separator).</summary>
internal static class WindowsPath
{
    public static string Combine(params string[] parts) => string.Join('\\', parts.Select((p, i) => i == 0 ? p.TrimEnd('\\') : p.Trim('\\')));
}
