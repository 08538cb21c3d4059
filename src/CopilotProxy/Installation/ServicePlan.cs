namespace CopilotProxy.Installation;

/// <summary>One thing <c>service install</c> or <c>uninstall</c> does to the system, in order.</summary>
public abstract record ServiceStep;

/// <summary>Creates a folder (and its parents) if it is missing.</summary>
public sealed record CreateFolder(string Path) : ServiceStep;

/// <summary>Writes a file; a secret one is readable by the user alone (0600) and its content is never printed.</summary>
public sealed record WriteFile(string Path, string Content, bool Secret = false, bool Utf16 = false) : ServiceStep;

/// <summary>Deletes a file if it exists.</summary>
public sealed record DeleteFile(string Path) : ServiceStep;

/// <summary>Runs a program; <paramref name="MayFail"/> for steps that only undo an earlier install (nothing to stop is fine).</summary>
public sealed record RunCommand(string FileName, IReadOnlyList<string> Arguments, bool MayFail = false) : ServiceStep
{
    public override string ToString() => string.Join(' ', new[] { FileName }.Concat(Arguments).Select(Quote));

    private static string Quote(string word) => word.Length > 0 && !word.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '&' or '|' or '$')
        ? word
        : "\"" + word.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

/// <summary>What a service command does, as data: <c>--print</c> renders it, otherwise <see cref="ServiceRunner"/> carries it out.</summary>
/// <param name="Steps">The changes, in order.</param>
/// <param name="Notes">Lines for the person afterwards: what is running where, what to paste into VS Code, what was kept.</param>
public sealed record ServicePlan(IReadOnlyList<ServiceStep> Steps, IReadOnlyList<string> Notes)
{
    /// <summary>The plan as <c>--print</c> shows it: each step as a shell-like line, each written file in full (a secret one as a placeholder).</summary>
    public void Print(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var step in Steps)
        {
            switch (step)
            {
                case CreateFolder folder:
                    output.WriteLine($"mkdir -p \"{folder.Path}\"");
                    break;
                case WriteFile { Secret: true } file:
                    output.WriteLine($"write {file.Path} (readable by you alone): the value of API_KEY, not shown");
                    break;
                case WriteFile file:
                    output.WriteLine($"write {file.Path}{(file.Utf16 ? " (UTF-16, as schtasks reads it)" : "")}:");
                    foreach (var line in file.Content.TrimEnd('\n').Split('\n'))
                    {
                        output.WriteLine(line.Length == 0 ? string.Empty : "    " + line.TrimEnd('\r'));
                    }

                    break;
                case DeleteFile delete:
                    output.WriteLine($"rm -f \"{delete.Path}\"");
                    break;
                case RunCommand command:
                    output.WriteLine($"{command}{(command.MayFail ? "   (may fail: nothing to undo)" : "")}");
                    break;
            }
        }

        foreach (var note in Notes)
        {
            output.WriteLine(note);
        }
    }
}
