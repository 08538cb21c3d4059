using System.Text.Json;
using System.Xml.Linq;
using CopilotProxy.Installation;

namespace CopilotProxy.Tests.Installation;

/// <summary>
/// The three service definitions as their own tools read them: systemd-analyze for the unit, Python's plistlib for the
/// launchd agent, an XML parser for the Windows task. Every one records the settings install was given and no secret.
/// </summary>
public sealed class ServiceDefinitionsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("copilot-proxy-service-").FullName;

    private static readonly KeyValuePair<string, string>[] Settings =
    [
        new("LMSTUDIO_URL", "http://192.0.2.10:1234/"),
        new("OLLAMA_PORT", "11500"),
        new("CONFIG_FILE", "/home/ann/My Models/100% local.yaml"),
        new("API_KEY_FILE", "/home/ann/.config/copilot-proxy/api-key"),
    ];

    [Fact]
    public async Task SystemdUnit_PassesSystemdAnalyzeVerify_AndRestartsOnFailureWithTheDrainAsStopTimeout()
    {
        // systemd-analyze checks that ExecStart names an executable file: the test's own copy of the proxy is one.
        var unit = new ServiceUnit(Path.Combine(AppContext.BaseDirectory, "copilot-proxy"), _directory, Settings, 18, null, "ann");
        var text = SystemdUnit.Render(unit);
        var path = Path.Combine(_directory, "copilot-proxy.service");
        await File.WriteAllTextAsync(path, text);

        Assert.Contains("\nRestart=on-failure\n", text, StringComparison.Ordinal);
        Assert.Contains("\nTimeoutStopSec=18\n", text, StringComparison.Ordinal);
        Assert.Contains("\nWantedBy=default.target\n", text, StringComparison.Ordinal);
        Assert.Equal(Settings.ToDictionary(), SystemdUnit.ReadEnvironment(text));

        var verify = await RunAsync("systemd-analyze", "verify", path);
        if (verify is null)
        {
            Assert.Skip("systemd-analyze is not installed here (apt-get install systemd): the unit's syntax was not checked");
        }

        Assert.True(verify.Value.ExitCode == 0 && verify.Value.Output.Length == 0, $"systemd-analyze verify:\n{verify.Value.Output}\n---\n{text}");
    }

    [Fact]
    public async Task LaunchdAgent_IsAPlistThatRunsAtLoadAndRestartsOnlyAfterAFailure()
    {
        var unit = new ServiceUnit("/Users/ann/.dotnet/tools/copilot-proxy", "/Users/ann/Library/Application Support/copilot-proxy",
            [.. Settings, new("LOG_DIR", "/Users/ann/Library/Logs/copilot-proxy")], 18, "/Users/ann/Library/Logs/copilot-proxy", "501");
        var text = LaunchdAgent.Render(unit);
        var path = Path.Combine(_directory, "copilot-proxy.plist");
        await File.WriteAllTextAsync(path, text);

        // Python's plistlib is a real property-list reader (the format launchd reads); its JSON says what it understood.
        var parsed = await RunAsync("python3", "-c", "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))", path);
        if (parsed is null)
        {
            Assert.Skip("python3 is not installed here: the plist was not parsed");
        }

        Assert.True(parsed.Value.ExitCode == 0, parsed.Value.Output);
        var plist = JsonDocument.Parse(parsed.Value.Output).RootElement;
        Assert.Equal("copilot-proxy", plist.GetProperty("Label").GetString());
        Assert.Equal("/Users/ann/.dotnet/tools/copilot-proxy", Assert.Single(plist.GetProperty("ProgramArguments").EnumerateArray()).GetString());
        Assert.True(plist.GetProperty("RunAtLoad").GetBoolean());
        Assert.False(plist.GetProperty("KeepAlive").GetProperty("SuccessfulExit").GetBoolean());
        Assert.Equal(18, plist.GetProperty("ExitTimeOut").GetInt32());
        Assert.Equal("/Users/ann/Library/Logs/copilot-proxy/stderr.log", plist.GetProperty("StandardErrorPath").GetString());
        Assert.Equal("/home/ann/My Models/100% local.yaml", plist.GetProperty("EnvironmentVariables").GetProperty("CONFIG_FILE").GetString());
        Assert.Equal(unit.Environment.ToDictionary(), LaunchdAgent.ReadEnvironment(text));
    }

    [Fact]
    public void ScheduledTask_StartsAtTheUsersLogonWithoutAdminRights_AndRestartsOnFailure()
    {
        var unit = new ServiceUnit(@"C:\Users\ann\.dotnet\tools\copilot-proxy.exe", @"C:\Users\ann\AppData\Roaming\copilot-proxy",
            [new("LMSTUDIO_URL", "http://localhost:1234/"), new("LOG_DIR", @"C:\Users\ann\AppData\Local\copilot-proxy\logs")], 18,
            @"C:\Users\ann\AppData\Local\copilot-proxy\logs", @"PC\ann");
        var text = ScheduledTask.Render(unit);

        var task = XDocument.Parse(text).Root!;
        XNamespace ns = "http://schemas.microsoft.com/windows/2004/02/mit/task";
        Assert.Equal(ns + "Task", task.Name);
        Assert.StartsWith("<?xml version=\"1.0\" encoding=\"UTF-16\"?>", text, StringComparison.Ordinal);
        Assert.Equal(@"PC\ann", task.Element(ns + "Triggers")!.Element(ns + "LogonTrigger")!.Element(ns + "UserId")!.Value);
        var principal = task.Element(ns + "Principals")!.Element(ns + "Principal")!;
        Assert.Equal("LeastPrivilege", principal.Element(ns + "RunLevel")!.Value);
        Assert.Equal("InteractiveToken", principal.Element(ns + "LogonType")!.Value);
        var settings = task.Element(ns + "Settings")!;
        Assert.Equal("PT0S", settings.Element(ns + "ExecutionTimeLimit")!.Value);
        Assert.NotNull(settings.Element(ns + "RestartOnFailure")!.Element(ns + "Count"));
        var arguments = task.Element(ns + "Actions")!.Element(ns + "Exec")!.Element(ns + "Arguments")!.Value;
        Assert.Contains("set \"LMSTUDIO_URL=http://localhost:1234/\"&", arguments, StringComparison.Ordinal);
        Assert.Contains(@"""C:\Users\ann\.dotnet\tools\copilot-proxy.exe"" >NUL 2>>""C:\Users\ann\AppData\Local\copilot-proxy\logs\stderr.log""", arguments, StringComparison.Ordinal);
        Assert.Equal(unit.Environment.ToDictionary(), ScheduledTask.ReadEnvironment(text));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<(int ExitCode, string Output)?> RunAsync(string program, params string[] arguments) =>
        await ServiceRunner.CaptureAsync(new RunCommand(program, arguments));
}
