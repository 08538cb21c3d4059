using System.Diagnostics;
using System.Xml.Linq;

namespace CopilotProxy.Tests.Hosting;

/// <summary>
/// <c>copilot-proxy service … --print</c> against the real binary: what install and uninstall would write and run on each
/// system, without touching this one. HOME points at an empty folder, so nothing the test does can reach the real user's.
/// </summary>
public sealed class ServiceCommandLineTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("copilot-proxy-cli-home-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    [Fact]
    public async Task InstallPrint_OnThisLinux_ShowsTheUnitWithTheGivenSettings_AndChangesNothing()
    {
        var run = await RunAsync(["service", "install", "--print", "--lmstudio-url", "http://127.0.0.1:1235", "--ollama-port", "11500", "--litellm-port", "4100"],
            ("API_KEY", "sk-never-printed"));

        Assert.True(run.ExitCode == 0, run.Output + run.Error);
        Assert.Contains($"write {_home}/.config/systemd/user/copilot-proxy.service:", run.Output, StringComparison.Ordinal);
        Assert.Contains("    Environment=\"LMSTUDIO_URL=http://127.0.0.1:1235\"", run.Output, StringComparison.Ordinal);
        Assert.Contains("    Environment=\"OLLAMA_PORT=11500\"", run.Output, StringComparison.Ordinal);
        Assert.Contains("    Environment=\"LITELLM_PORT=4100\"", run.Output, StringComparison.Ordinal);
        Assert.Contains($"    Environment=\"API_KEY_FILE={_home}/.config/copilot-proxy/api-key\"", run.Output, StringComparison.Ordinal);
        Assert.Contains($"    ExecStart=\"{Path.Combine(AppContext.BaseDirectory, "copilot-proxy")}\"", run.Output, StringComparison.Ordinal);
        Assert.Contains("systemctl --user enable copilot-proxy.service", run.Output, StringComparison.Ordinal);
        Assert.Contains("URL http://localhost:11500", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-never-printed", run.Output + run.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_home));
    }

    [Fact]
    public async Task InstallPrint_ForMacOSAndWindows_ShowsThePlistAndTheTask()
    {
        var mac = await RunAsync(["service", "install", "--print", "--platform", "macos", "--ollama-port", "11500"]);
        var windows = await RunAsync(["service", "install", "--print", "--platform", "windows"]);

        Assert.True(mac.ExitCode == 0, mac.Error);
        Assert.Contains("<key>RunAtLoad</key>", mac.Output, StringComparison.Ordinal);
        Assert.Contains("/Library/LaunchAgents/copilot-proxy.plist:", mac.Output, StringComparison.Ordinal);
        Assert.Contains("launchctl bootstrap gui/", mac.Output, StringComparison.Ordinal);
        Assert.True(windows.ExitCode == 0, windows.Error);
        var xml = windows.Output[windows.Output.IndexOf("    <?xml", StringComparison.Ordinal)..(windows.Output.IndexOf("    </Task>", StringComparison.Ordinal) + 11)];
        var task = XDocument.Parse(string.Join('\n', xml.Split('\n').Select(l => l.Length >= 4 ? l[4..] : l)));
        Assert.Equal("Task", task.Root!.Name.LocalName);
        Assert.Contains("schtasks /Create /TN copilot-proxy /XML", windows.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UninstallStatusAndLogsPrint_NameWhatTheyWouldRun()
    {
        var uninstall = await RunAsync(["service", "uninstall", "--print"]);
        var status = await RunAsync(["service", "status", "--print"]);
        var logs = await RunAsync(["service", "logs", "--print", "--follow"]);

        Assert.Contains($"rm -f \"{_home}/.config/systemd/user/copilot-proxy.service\"", uninstall.Output, StringComparison.Ordinal);
        Assert.Contains("systemctl --user status --no-pager --lines=0 copilot-proxy.service", status.Output, StringComparison.Ordinal);
        Assert.Contains("journalctl --user --unit copilot-proxy.service --lines=200 --no-pager --follow", logs.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "service" }, "install, uninstall, status or logs")]
    [InlineData(new[] { "service", "instal" }, "'instal' was not matched")]
    [InlineData(new[] { "service", "install", "--platform", "windows" }, "--platform Windows only works with --print")]
    [InlineData(new[] { "service", "install", "--print", "--ollama-port", "70000" }, "OLLAMA_PORT='70000' is not valid")]
    [InlineData(new[] { "service", "install", "--print", "--config", "/nonexistent/config.yaml" }, "does not exist")]
    public async Task BadServiceCommandLines_Exit2_SayingWhy(string[] args, string expected)
    {
        var run = await RunAsync(args);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(expected, run.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_home));
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(string[] args, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "copilot-proxy"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _home,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HOME"] = _home;
        start.Environment["XDG_CONFIG_HOME"] = null;
        start.Environment["API_KEY"] = null;
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await output).ReplaceLineEndings("\n"), (await error).ReplaceLineEndings("\n"));
    }
}
