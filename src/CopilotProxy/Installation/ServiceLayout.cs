using CopilotProxy.Configuration;

namespace CopilotProxy.Installation;

/// <summary>
/// Where one user's service lives on one platform: the definition file, the settings folder (config.yaml, the key file),
/// the log folder, and the account to name in service-manager commands.
/// </summary>
/// <param name="Account">The numeric uid for <c>launchctl … gui/UID</c> on macOS, DOMAIN\user for the Windows task, the user name on Linux.</param>
public sealed record ServiceLayout(UserPlatform Platform, string SettingsFolder, string DefinitionPath, string? LogFolder, string Account)
{
    /// <summary>The gateway key file <c>install</c> writes from API_KEY and the unit names in API_KEY_FILE.</summary>
    public string KeyFile => Join(SettingsFolder, Configuration.SettingsFolder.KeyFileName);

    /// <summary>The layout for <paramref name="platform"/>, or the reason there is none (no home folder in the environment).</summary>
    public static ServiceLayout? For(UserPlatform platform, Func<string, string?> environment, string account, out string? error)
    {
        ArgumentNullException.ThrowIfNull(environment);
        error = null;
        var settings = Configuration.SettingsFolder.Resolve(platform, environment);
        switch (platform)
        {
            case UserPlatform.Windows when settings is not null && environment("LOCALAPPDATA") is { Length: > 0 } local:
                var data = WindowsPath.Combine(local, ServiceName.Value);
                return new ServiceLayout(platform, settings, WindowsPath.Combine(data, ServiceName.Value + "-task.xml"), WindowsPath.Combine(data, "logs"), account);
            case UserPlatform.MacOS when settings is not null && environment("HOME") is { Length: > 0 } home:
                return new ServiceLayout(platform, settings, $"{home.TrimEnd('/')}/Library/LaunchAgents/{ServiceName.Value}.plist",
                    $"{home.TrimEnd('/')}/Library/Logs/{ServiceName.Value}", account);
            case UserPlatform.Linux when settings is not null:
                // systemd looks for user units in $XDG_CONFIG_HOME/systemd/user, which is the settings folder's parent.
                var configHome = settings[..settings.LastIndexOf('/')];
                return new ServiceLayout(platform, settings, $"{configHome}/systemd/user/{ServiceName.Value}.service", null, account);
            default:
                error = platform == UserPlatform.Windows
                    ? "APPDATA and LOCALAPPDATA are not set, so there is no per-user folder for the settings and the task; run it as the user who will use the proxy"
                    : "HOME is not set, so there is no per-user folder for the settings and the service; run it as the user who will use the proxy";
                return null;
        }
    }

    /// <summary>A path in this layout's own separator style (the layout may be another platform's, for --print).</summary>
    public string Join(string folder, string name) => Platform == UserPlatform.Windows ? WindowsPath.Combine(folder, name) : $"{folder.TrimEnd('/')}/{name}";

    /// <summary>The folder holding <paramref name="path"/>, in this layout's separator style.</summary>
    public string FolderOf(string path) => path[..path.LastIndexOf(Platform == UserPlatform.Windows ? '\\' : '/')];
}
