using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace CopilotProxy.Installation;

/// <summary>Carries out a <see cref="ServicePlan"/> on this machine, saying each step as it is done.</summary>
public static class ServiceRunner
{
    private const UnixFileMode UserOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Runs every step in order; stops at the first failure with what failed and how to fix it. 0 on success, 1 otherwise.</summary>
    public static async Task<int> RunAsync(ServicePlan plan, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(plan);
        foreach (var step in plan.Steps)
        {
            try
            {
                if (!await RunStepAsync(step, output, error))
                {
                    return 1;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"copilot-proxy: {Describe(step)} failed: {ex.Message} Check that the folder is yours and writable, then run the command again.");
                return 1;
            }
        }

        foreach (var note in plan.Notes)
        {
            await output.WriteLineAsync(note);
        }

        return 0;
    }

    /// <summary>Runs a program and returns its exit code and combined output; null when the program is not on this system.</summary>
    public static async Task<(int ExitCode, string Output)?> CaptureAsync(RunCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var start = new ProcessStartInfo(command.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, (await stdout + await stderr).TrimEnd());
        }
        catch (Win32Exception)
        {
            return null;
        }
    }

    private static async Task<bool> RunStepAsync(ServiceStep step, TextWriter output, TextWriter error)
    {
        switch (step)
        {
            case CreateFolder folder:
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(folder.Path);
                }
                else
                {
                    Directory.CreateDirectory(folder.Path, UserOnly | UnixFileMode.UserExecute);
                }

                return true;
            case WriteFile file:
                await WriteAsync(file);
                await output.WriteLineAsync($"✓ wrote {file.Path}{(file.Secret ? " (readable by you alone)" : "")}");
                return true;
            case DeleteFile delete:
                if (File.Exists(delete.Path))
                {
                    File.Delete(delete.Path);
                    await output.WriteLineAsync($"✓ removed {delete.Path}");
                }

                return true;
            case RunCommand command:
                var result = await CaptureAsync(command);
                if (result is not { } ran)
                {
                    await error.WriteLineAsync($"copilot-proxy: {command.FileName} is not on this system, so `{command}` cannot run. {MissingToolAdvice(command.FileName)}");
                    return command.MayFail;
                }

                if (ran.ExitCode != 0 && !command.MayFail)
                {
                    await error.WriteLineAsync($"copilot-proxy: `{command}` failed (exit {ran.ExitCode}): {ran.Output}{FailureAdvice(command, ran.Output)}");
                    return false;
                }

                await output.WriteLineAsync($"{(ran.ExitCode == 0 ? "✓" : "·")} {command}");
                return true;
            default:
                throw new UnreachableException(step.GetType().Name);
        }
    }

    private static async Task WriteAsync(WriteFile file)
    {
        var bytes = file.Utf16 ? [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(file.Content)] : Encoding.UTF8.GetBytes(file.Content);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (file.Secret && !OperatingSystem.IsWindows())
        {
            // Created 0600 from the start (no moment where the key is readable by others), and an existing file narrowed too.
            options.UnixCreateMode = UserOnly;
            if (File.Exists(file.Path))
            {
                File.SetUnixFileMode(file.Path, UserOnly);
            }
        }

        await using var stream = new FileStream(file.Path, options);
        await stream.WriteAsync(bytes);
    }

    private static string Describe(ServiceStep step) => step switch
    {
        CreateFolder f => $"creating {f.Path}",
        WriteFile f => $"writing {f.Path}",
        DeleteFile f => $"removing {f.Path}",
        _ => step.ToString() ?? string.Empty,
    };

    private static string FailureAdvice(RunCommand command, string output) =>
        command.FileName == "systemctl" && output.Contains("Failed to connect to bus", StringComparison.Ordinal)
            ? " No systemd user manager is reachable from this shell (a container, WSL without systemd, or su/sudo without a login session of that user): log in as the user and run the command again. `copilot-proxy service uninstall` removes what was written."
            : " `copilot-proxy service uninstall` removes what was written.";

    private static string MissingToolAdvice(string tool) => tool switch
    {
        "systemctl" or "journalctl" => "This Linux has no systemd user manager (a container, WSL without systemd): start copilot-proxy another way, e.g. from your session's autostart.",
        _ => "Run the command on the system it was written for.",
    };
}
