using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using CopilotProxy.Configuration;

namespace CopilotProxy.Tests.Hosting;

/// <summary>
/// The command line as a person meets it, against the real binary. Both ports are held by this test while it runs, so a
/// command that tried to start the proxy would fail to bind and exit 3 saying so; every other outcome proves it never did.
/// </summary>
public sealed class CommandLineTests : IDisposable
{
    private const int BindFailed = 3;
    private readonly TcpListener _ollamaPort = Hold();
    private readonly TcpListener _gatewayPort = Hold();
    private string _host = "127.0.0.1";

    public void Dispose()
    {
        _ollamaPort.Dispose();
        _gatewayPort.Dispose();
    }

    [Fact]
    public async Task NoCommand_RunsTheProxy_SoTheHeldPortsCatchAnyStart()
    {
        var run = await RunAsync();

        Assert.Equal(BindFailed, run.ExitCode);
        Assert.Contains("Another program holds the port", run.Error, StringComparison.Ordinal);
        // The reason is the one failure reported: no stack trace above it, and the services the host started and then
        // cancelled did not crash.
        Assert.DoesNotContain("Hosting failed to start", run.Output + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("BackgroundService", run.Output + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Error, StringComparison.Ordinal);
        // Nor does the start-up summary claim the proxy is up, or point VS Code at the port another program holds.
        Assert.DoesNotContain("the proxy is up", run.Output + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("VS Code:", run.Output + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostNotOnThisMachine_ExitsWithTheSettingToChange_NotAnAbort()
    {
        // TEST-NET-1 (RFC 5737) is never a local address: the bind fails at once and no packet is sent.
        _host = "192.0.2.1";

        var run = await RunAsync();

        Assert.Equal(BindFailed, run.ExitCode);
        Assert.Contains("copilot-proxy: Cannot listen on HOST=192.0.2.1", run.Error, StringComparison.Ordinal);
        Assert.Contains("no network interface of this machine has that address", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed to start", run.Output + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("BackgroundService", run.Output + run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("-?")]
    public async Task Help_PrintsTheCommandsAndKeySettings_AndExits0(string option)
    {
        var run = await RunAsync(option);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(string.Empty, run.Error);
        foreach (var command in new[] { "doctor", "clients", "check-config <FILE>", "healthcheck", "completion", "service" })
        {
            Assert.Contains("\n  " + command, run.Output, StringComparison.Ordinal);
        }

        foreach (var setting in new[] { "LMSTUDIO_URL", "OLLAMA_PORT", "LITELLM_PORT", "HOST", "API_KEY", "CONFIG_FILE", "LOG_FORMAT", "MIN_CONTEXT_LENGTH" })
        {
            Assert.Contains("\n  " + setting + " ", run.Output, StringComparison.Ordinal);
        }

        Assert.Contains("docs/configuration.md", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryCommandInTheUsage_HasItsOwnHelp_AndExits0()
    {
        var usage = (await RunAsync("--help")).Output;
        var commands = usage[usage.IndexOf("Commands:\n", StringComparison.Ordinal)..usage.IndexOf("\nSettings", StringComparison.Ordinal)]
            .Split('\n').Skip(1).Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l[2] != ' ')
            .Select(l => l.Trim().Split(' ')[0]).ToList();
        Assert.Equal(["doctor", "clients", "check-config", "healthcheck", "completion", "service"], commands);

        // The old spellings the container HEALTHCHECK, compose and the docs use are the same commands.
        foreach (var command in commands.Concat(["--check-config", "--healthcheck"]))
        {
            var run = await RunAsync(command, "--help");

            Assert.True(run.ExitCode == 0, $"`{command} --help` exited {run.ExitCode}:\n{run.Output}{run.Error}");
            Assert.Contains("Usage:\n  copilot-proxy " + command.TrimStart('-'), run.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(new[] { "docter" }, "'docter' was not matched", "doctor")]
    [InlineData(new[] { "client" }, "'client' was not matched", "clients")]
    [InlineData(new[] { "--healthchek" }, "'--healthchek' was not matched", "healthcheck")]
    [InlineData(new[] { "clients", "--jsn" }, "'--jsn' was not matched", "--json")]
    [InlineData(new[] { "--no-such-option" }, "Unrecognized command or argument '--no-such-option'", "doctor")]
    [InlineData(new[] { "check-config" }, "Required argument 'FILE' missing", "<FILE>")]
    [InlineData(new[] { "completion", "tcsh" }, "Argument 'tcsh' not recognized", "'zsh'")]
    public async Task AMistake_Exits2_NamingTheClosestMatchAndTheValidOnes_WithoutStarting(string[] args, string message, string suggestion)
    {
        var run = await RunAsync(args);

        Assert.True(run.ExitCode == 2, $"exited {run.ExitCode}:\n{run.Output}{run.Error}");
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
        Assert.Contains(suggestion, run.Error, StringComparison.Ordinal);
        Assert.Contains("Usage:", run.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Output);
    }

    [Fact]
    public async Task Version_IsTheAssemblysInformationalVersion_WithoutBuildMetadata()
    {
        var informational = typeof(ProductVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

        var run = await RunAsync("--version");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(informational.Split('+')[0] + "\n", run.Output);
        Assert.Equal(ProductVersion.Current + "\n", run.Output);
    }

    [Fact]
    public async Task Completion_Bash_CompletesCommandsAndOptionsFromTheParser()
    {
        var script = Path.Combine(Path.GetTempPath(), $"copilot-proxy-completion-{Guid.NewGuid():N}.bash");
        var run = await RunAsync("completion", "bash");
        Assert.Equal(0, run.ExitCode);
        await File.WriteAllTextAsync(script, run.Output);
        try
        {
            Assert.Equal(["doctor"], await BashCompleteAsync(script, "d"));
            Assert.Equal(["--json"], await BashCompleteAsync(script, "clients --j"));
            Assert.Equal(["check-config", "clients", "completion"], await BashCompleteAsync(script, "c"));
            Assert.Equal(["--check-config", "--healthcheck", "--help", "--version"], await BashCompleteAsync(script, "--"));
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Theory]
    [InlineData("zsh", "compdef _copilot_proxy copilot-proxy")]
    [InlineData("fish", "complete -c copilot-proxy")]
    [InlineData("pwsh", "Register-ArgumentCompleter -Native -CommandName 'copilot-proxy'")]
    public async Task Completion_OtherShells_AskTheParserThroughTheSuggestDirective(string shell, string registration)
    {
        var run = await RunAsync("completion", shell);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("[suggest:", run.Output, StringComparison.Ordinal);
        Assert.Contains(registration, run.Output, StringComparison.Ordinal);
    }

    /// <summary>What bash offers after <c>copilot-proxy LINE</c> with the script loaded, as bash itself would call it.</summary>
    private static async Task<string[]> BashCompleteAsync(string script, string line)
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "copilot-proxy");
        var commandLine = executable + " " + line;
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(
            "source \"$1\"; COMP_LINE=\"$2\"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< \"$2\"; " +
            "_copilot_proxy; printf '%s\\n' \"${COMPREPLY[@]}\"");
        start.ArgumentList.Add("bash");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(commandLine);
        using var bash = Process.Start(start)!;
        var output = await bash.StandardOutput.ReadToEndAsync();
        await bash.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "copilot-proxy"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["OLLAMA_PORT"] = PortOf(_ollamaPort);
        start.Environment["LITELLM_PORT"] = PortOf(_gatewayPort);
        start.Environment["HOST"] = _host;
        start.Environment["LMSTUDIO_URL"] = "http://127.0.0.1:9/";
        start.Environment["CONFIG_FILE"] = null;
        start.Environment["LOG_FORMAT"] = "text";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`copilot-proxy {string.Join(' ', args)}` was still running after 30 s: it started something instead of answering.");
        }

        return (process.ExitCode, (await output).ReplaceLineEndings("\n"), (await error).ReplaceLineEndings("\n"));
    }

    private static TcpListener Hold()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static string PortOf(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
}
