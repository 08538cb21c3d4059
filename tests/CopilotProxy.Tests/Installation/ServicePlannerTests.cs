using CopilotProxy.Configuration;
using CopilotProxy.Installation;

namespace CopilotProxy.Tests.Installation;

/// <summary>What install and uninstall would do on each platform, read from the plan --print shows.</summary>
public sealed class ServicePlannerTests : IDisposable
{
    private const string Key = "sk-install-secret-42";
    private readonly string _directory = Directory.CreateTempSubdirectory("copilot-proxy-plan-").FullName;

    public static TheoryData<UserPlatform> Platforms => [UserPlatform.Linux, UserPlatform.MacOS, UserPlatform.Windows];

    [Theory]
    [MemberData(nameof(Platforms))]
    public void Install_MovesApiKeyToAUserOnlyFile_AndNamesItInTheUnit_NeverTheKeyItself(UserPlatform platform)
    {
        var planner = Planner(platform, apiKey: Key);

        var plan = planner.Install(new ServiceSettings { LmStudioUrl = "http://192.0.2.10:1234/", OllamaPort = 11500 });
        var printed = Print(plan);

        var key = Assert.Single(plan.Steps.OfType<WriteFile>(), w => w.Secret);
        Assert.Equal(Key + "\n", key.Content);
        Assert.Equal(planner.Layout.KeyFile, key.Path);
        var definition = Assert.Single(plan.Steps.OfType<WriteFile>(), w => !w.Secret);
        Assert.Equal(planner.Layout.DefinitionPath, definition.Path);
        Assert.DoesNotContain(Key, printed, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, definition.Content, StringComparison.Ordinal);
        Assert.All(plan.Steps.OfType<RunCommand>(), c => Assert.DoesNotContain(Key, c.ToString(), StringComparison.Ordinal));
        var recorded = planner.RecordedEnvironment(definition.Content);
        Assert.Equal(planner.Layout.KeyFile, recorded["API_KEY_FILE"]);
        Assert.Equal("http://192.0.2.10:1234/", recorded["LMSTUDIO_URL"]);
        Assert.Equal("11500", recorded["OLLAMA_PORT"]);
        Assert.Contains("URL http://localhost:11500", printed, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public void Uninstall_RemovesEveryFileInstallWrote_AndUndoesTheRegistration(UserPlatform platform)
    {
        var planner = Planner(platform, apiKey: Key);

        var written = planner.Install(new ServiceSettings()).Steps.OfType<WriteFile>().Select(w => w.Path).ToHashSet();
        var uninstall = planner.Uninstall();

        Assert.Subset(uninstall.Steps.OfType<DeleteFile>().Select(d => d.Path).ToHashSet(), written);
        var undo = string.Join('\n', uninstall.Steps.OfType<RunCommand>());
        Assert.Contains(platform switch
        {
            UserPlatform.Linux => "systemctl --user disable --now copilot-proxy.service",
            UserPlatform.MacOS => "launchctl bootout gui/501/copilot-proxy",
            _ => "schtasks /Delete /TN copilot-proxy /F",
        }, undo, StringComparison.Ordinal);
    }

    [Fact]
    public void LinuxInstall_EnablesTheUserUnit_AndHintsAtLingering()
    {
        var plan = Planner(UserPlatform.Linux, apiKey: null).Install(new ServiceSettings());
        var printed = Print(plan);

        Assert.Contains("write /home/ann/.config/systemd/user/copilot-proxy.service:", printed, StringComparison.Ordinal);
        Assert.Contains("systemctl --user enable copilot-proxy.service", printed, StringComparison.Ordinal);
        Assert.Contains("systemctl --user restart copilot-proxy.service", printed, StringComparison.Ordinal);
        Assert.Contains("loginctl enable-linger ann", printed, StringComparison.Ordinal);
        // GRACEFUL_SHUTDOWN_TIMEOUT's 10 s, the proxy's 3 s to end streams, 5 s margin.
        Assert.Contains("    TimeoutStopSec=18", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("API_KEY_FILE", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void Layout_FollowsXdgConfigHome_ForSettingsAndUnit()
    {
        var layout = ServiceLayout.For(UserPlatform.Linux, Env(("HOME", "/home/ann"), ("XDG_CONFIG_HOME", "/data/cfg")), "ann", out _)!;

        Assert.Equal("/data/cfg/copilot-proxy", layout.SettingsFolder);
        Assert.Equal("/data/cfg/systemd/user/copilot-proxy.service", layout.DefinitionPath);
        Assert.Equal("/data/cfg/copilot-proxy/api-key", layout.KeyFile);
    }

    [Fact]
    public void Layout_WithoutAHomeFolder_SaysWhy()
    {
        Assert.Null(ServiceLayout.For(UserPlatform.MacOS, _ => null, "501", out var error));
        Assert.Contains("HOME is not set", error, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Runner_WritesTheKeyFileReadableByTheUserAlone_AndUninstallRemovesIt()
    {

        var key = Path.Combine(_directory, "settings", "api-key");
        var definition = Path.Combine(_directory, "units", "copilot-proxy.service");
        var install = new ServicePlan(
            [new CreateFolder(Path.GetDirectoryName(key)!), new CreateFolder(Path.GetDirectoryName(definition)!), new WriteFile(key, Key + "\n", Secret: true), new WriteFile(definition, "[Unit]\n")],
            ["done"]);
        using var output = new StringWriter();

        Assert.Equal(0, await ServiceRunner.RunAsync(install, output, TextWriter.Null));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.Equal(Key + "\n", await File.ReadAllTextAsync(key));
        Assert.DoesNotContain(Key, output.ToString(), StringComparison.Ordinal);

        Assert.Equal(0, await ServiceRunner.RunAsync(new ServicePlan([new DeleteFile(key), new DeleteFile(definition)], []), output, TextWriter.Null));
        Assert.False(File.Exists(key));
        Assert.False(File.Exists(definition));
    }

    [Fact]
    public async Task Runner_ACommandThatFails_StopsWithItsOutput()
    {
        var plan = new ServicePlan([new RunCommand("sh", ["-c", "echo no user manager >&2; exit 3"]), new WriteFile(Path.Combine(_directory, "never"), "x")], []);
        using var error = new StringWriter();

        Assert.Equal(1, await ServiceRunner.RunAsync(plan, TextWriter.Null, error));
        Assert.Contains("failed (exit 3): no user manager", error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "never")));
    }

    [Fact]
    public void ToolExecutable_IsTheToolsCommand_NotItsVersionFolder_AndRefusesTheDotnetHostAndTheNuGetCache()
    {
        var store = $"/home/ann/.dotnet/tools/.store/copilot-proxy/0.2.0/copilot-proxy.linux-x64/0.2.0/tools/any/linux-x64/copilot-proxy";

        Assert.Equal("/home/ann/.dotnet/tools/copilot-proxy", ToolExecutable.Resolve(store, out _));
        Assert.Equal("/opt/copilot-proxy/copilot-proxy", ToolExecutable.Resolve("/opt/copilot-proxy/copilot-proxy", out _));
        Assert.Null(ToolExecutable.Resolve("/usr/share/dotnet/dotnet", out var host));
        Assert.Contains("dotnet tool install -g copilot-proxy", host, StringComparison.Ordinal);
        Assert.Null(ToolExecutable.Resolve("/home/ann/.nuget/packages/copilot-proxy.linux-x64/0.2.0/tools/any/linux-x64/copilot-proxy", out var cache));
        Assert.Contains("NuGet cache", cache, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ServicePlanner Planner(UserPlatform platform, string? apiKey)
    {
        var (environment, account, executable) = platform switch
        {
            UserPlatform.Windows => (Env(("APPDATA", @"C:\Users\ann\AppData\Roaming"), ("LOCALAPPDATA", @"C:\Users\ann\AppData\Local")), @"PC\ann", @"C:\Users\ann\.dotnet\tools\copilot-proxy.exe"),
            UserPlatform.MacOS => (Env(("HOME", "/Users/ann")), "501", "/Users/ann/.dotnet/tools/copilot-proxy"),
            _ => (Env(("HOME", "/home/ann")), "ann", "/home/ann/.dotnet/tools/copilot-proxy"),
        };
        var layout = ServiceLayout.For(platform, environment, account, out var error) ?? throw new InvalidOperationException(error);
        return new ServicePlanner(layout, executable, apiKey, KeyFileExists: false, new ProxySettings());
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] values) =>
        name => values.FirstOrDefault(v => v.Name == name).Value;

    private static string Print(ServicePlan plan)
    {
        using var output = new StringWriter();
        plan.Print(output);
        return output.ToString();
    }
}
