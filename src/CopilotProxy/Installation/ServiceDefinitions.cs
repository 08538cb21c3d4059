using System.Globalization;
using System.Security;
using System.Text;
using System.Text.RegularExpressions;

namespace CopilotProxy.Installation;

/// <summary>What every service definition holds, whatever the service manager: the program, its folder, its settings.</summary>
/// <param name="Executable">The copilot-proxy command (the tool's shim, so <c>dotnet tool update</c> is picked up at the next start).</param>
/// <param name="WorkingDirectory">The settings folder, so its <c>config.yaml</c> is the service's <c>./config.yaml</c>.</param>
/// <param name="Environment">The settings <c>install</c> was given, as the proxy's environment variables; never a secret.</param>
/// <param name="StopTimeoutSeconds">How long the service manager waits after SIGTERM: the drain, its grace and a margin.</param>
/// <param name="LogFolder">Where the service's log files go (macOS, Windows); null where the journal keeps the console (Linux).</param>
/// <param name="UserId">The account the Windows task runs as (DOMAIN\user); unused elsewhere.</param>
public sealed record ServiceUnit(
    string Executable,
    string WorkingDirectory,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    int StopTimeoutSeconds,
    string? LogFolder,
    string UserId);

/// <summary>The name of the service in every service manager: unit, launchd label, task.</summary>
public static class ServiceName
{
    public const string Value = "copilot-proxy";
    public const string Description = "LM Studio Copilot Proxy: Ollama and OpenAI front doors for LM Studio";
}

/// <summary>A systemd user unit (systemd.service(5)).</summary>
public static partial class SystemdUnit
{
    public static string Render(ServiceUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        var text = new StringBuilder();
        text.Append("# Written by `copilot-proxy service install`; `copilot-proxy service uninstall` removes it.\n");
        text.Append("[Unit]\n");
        text.Append(CultureInfo.InvariantCulture, $"Description={ServiceName.Description}\n");
        text.Append('\n');
        text.Append("[Service]\n");
        text.Append("Type=exec\n");
        text.Append(CultureInfo.InvariantCulture, $"ExecStart={Quote(unit.Executable).Replace("$", "$$", StringComparison.Ordinal)}\n");
        // WorkingDirectory= takes the rest of the line as the path (no quotes); only specifiers need escaping.
        text.Append(CultureInfo.InvariantCulture, $"WorkingDirectory={unit.WorkingDirectory.Replace("%", "%%", StringComparison.Ordinal)}\n");
        foreach (var (name, value) in unit.Environment)
        {
            text.Append(CultureInfo.InvariantCulture, $"Environment={Quote($"{name}={value}")}\n");
        }

        text.Append("Restart=on-failure\n");
        text.Append("RestartSec=5\n");
        text.Append("# GRACEFUL_SHUTDOWN_TIMEOUT for in-flight streams, the proxy's own grace to end them, and a margin.\n");
        text.Append(CultureInfo.InvariantCulture, $"TimeoutStopSec={unit.StopTimeoutSeconds}\n");
        text.Append('\n');
        text.Append("[Install]\n");
        text.Append("WantedBy=default.target\n");
        return text.ToString();
    }

    /// <summary>The <c>Environment=</c> settings of a unit this class wrote.</summary>
    public static IReadOnlyDictionary<string, string> ReadEnvironment(string unitText) =>
        EnvironmentLine().Matches(unitText).ToDictionary(m => m.Groups[1].Value, m => Unescape(m.Groups[2].Value), StringComparer.Ordinal);

    // Quoted, with backslash and quote escaped and % doubled: systemd reads "%h" as a specifier, not as text.
    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("%", "%%", StringComparison.Ordinal) + "\"";

    private static string Unescape(string value) =>
        value.Replace("%%", "%", StringComparison.Ordinal).Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);

    [GeneratedRegex("""^Environment="([A-Z_]+)=(.*)"$""", RegexOptions.Multiline)]
    private static partial Regex EnvironmentLine();
}

/// <summary>A launchd agent (launchd.plist(5)) in Apple's XML property list form.</summary>
public static partial class LaunchdAgent
{
    public static string Render(ServiceUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        var text = new StringBuilder();
        text.Append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        text.Append("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n");
        text.Append("<!-- Written by `copilot-proxy service install`; `copilot-proxy service uninstall` removes it. -->\n");
        text.Append("<plist version=\"1.0\">\n<dict>\n");
        Key(text, "Label", ServiceName.Value);
        text.Append("  <key>ProgramArguments</key>\n  <array>\n");
        text.Append(CultureInfo.InvariantCulture, $"    <string>{SecurityElement.Escape(unit.Executable)}</string>\n");
        text.Append("  </array>\n");
        Key(text, "WorkingDirectory", unit.WorkingDirectory);
        text.Append("  <key>EnvironmentVariables</key>\n  <dict>\n");
        foreach (var (name, value) in unit.Environment)
        {
            text.Append(CultureInfo.InvariantCulture, $"    <key>{SecurityElement.Escape(name)}</key>\n    <string>{SecurityElement.Escape(value)}</string>\n");
        }

        text.Append("  </dict>\n");
        text.Append("  <key>RunAtLoad</key>\n  <true/>\n");
        // Restarted when it exits with an error or a signal; a clean exit (launchctl bootout, SIGTERM's drain) stays stopped.
        text.Append("  <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n");
        text.Append(CultureInfo.InvariantCulture, $"  <key>ExitTimeOut</key>\n  <integer>{unit.StopTimeoutSeconds}</integer>\n");
        if (unit.LogFolder is { } logs)
        {
            // The console's lines go to LOG_DIR's rotated files; stderr keeps what is written before logging starts.
            Key(text, "StandardErrorPath", $"{logs}/stderr.log");
        }

        text.Append("</dict>\n</plist>\n");
        return text.ToString();
    }

    /// <summary>The <c>EnvironmentVariables</c> of a plist this class wrote.</summary>
    public static IReadOnlyDictionary<string, string> ReadEnvironment(string plistText) =>
        EnvironmentEntry().Matches(plistText).ToDictionary(m => m.Groups[1].Value, m => XmlText.Unescape(m.Groups[2].Value), StringComparer.Ordinal);

    private static void Key(StringBuilder text, string key, string value) =>
        text.Append(CultureInfo.InvariantCulture, $"  <key>{key}</key>\n  <string>{SecurityElement.Escape(value)}</string>\n");

    [GeneratedRegex(@"^    <key>([A-Z_]+)</key>\n    <string>(.*)</string>$", RegexOptions.Multiline)]
    private static partial Regex EnvironmentEntry();
}

/// <summary>A Task Scheduler task (schema 1.2) that starts the proxy at the user's logon and restarts it when it fails.</summary>
public static partial class ScheduledTask
{
    public static string Render(ServiceUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
        var logs = unit.LogFolder ?? unit.WorkingDirectory;
        // A task's action has no environment of its own, so cmd sets the settings before starting the proxy. conhost
        // --headless (Windows 10 1809 and later) runs it without a console window at every logon. The console's lines
        // go to LOG_DIR's rotated files; stderr keeps what is written before logging starts.
        var line = new StringBuilder("/d /c ");
        foreach (var (name, value) in unit.Environment)
        {
            line.Append(CultureInfo.InvariantCulture, $"set \"{name}={value}\"&");
        }

        line.Append(CultureInfo.InvariantCulture, $"\"{unit.Executable}\" >NUL 2>>\"{logs}\\stderr.log\"");

        var user = SecurityElement.Escape(unit.UserId);
        return $"""
            <?xml version="1.0" encoding="UTF-16"?>
            <!-- Written by `copilot-proxy service install`; `copilot-proxy service uninstall` removes it. -->
            <Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
              <RegistrationInfo>
                <Description>{SecurityElement.Escape(ServiceName.Description)}</Description>
                <URI>\{ServiceName.Value}</URI>
              </RegistrationInfo>
              <Triggers>
                <LogonTrigger>
                  <Enabled>true</Enabled>
                  <UserId>{user}</UserId>
                </LogonTrigger>
              </Triggers>
              <Principals>
                <Principal id="Author">
                  <UserId>{user}</UserId>
                  <LogonType>InteractiveToken</LogonType>
                  <RunLevel>LeastPrivilege</RunLevel>
                </Principal>
              </Principals>
              <Settings>
                <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
                <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
                <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
                <StartWhenAvailable>true</StartWhenAvailable>
                <IdleSettings>
                  <StopOnIdleEnd>false</StopOnIdleEnd>
                  <RestartOnIdle>false</RestartOnIdle>
                </IdleSettings>
                <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
                <RestartOnFailure>
                  <Interval>PT1M</Interval>
                  <Count>999</Count>
                </RestartOnFailure>
              </Settings>
              <Actions Context="Author">
                <Exec>
                  <Command>%SystemRoot%\System32\conhost.exe</Command>
                  <Arguments>--headless %SystemRoot%\System32\cmd.exe {SecurityElement.Escape(line.ToString())}</Arguments>
                  <WorkingDirectory>{SecurityElement.Escape(unit.WorkingDirectory)}</WorkingDirectory>
                </Exec>
              </Actions>
            </Task>

            """.Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    /// <summary>The settings a task this class wrote sets before starting the proxy.</summary>
    public static IReadOnlyDictionary<string, string> ReadEnvironment(string taskText) =>
        SetCommand().Matches(XmlText.Unescape(taskText)).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);

    [GeneratedRegex("""set "([A-Z_]+)=([^"]*)"&""")]
    private static partial Regex SetCommand();
}

/// <summary>The five XML escapes, undone (SecurityElement.Escape does them).</summary>
internal static class XmlText
{
    public static string Unescape(string text) => text
        .Replace("&lt;", "<", StringComparison.Ordinal).Replace("&gt;", ">", StringComparison.Ordinal)
        .Replace("&quot;", "\"", StringComparison.Ordinal).Replace("&apos;", "'", StringComparison.Ordinal)
        .Replace("&amp;", "&", StringComparison.Ordinal);
}
