using System.CommandLine.Parsing;
using System.Text.RegularExpressions;

namespace CopilotProxy.Tests.Docs;

/// <summary>
/// Every <c>copilot-proxy …</c> command the README and docs/*.md show parses with the binary's own parser (parsed only,
/// never run), so renaming a command or an option fails here until the documents follow.
/// </summary>
public sealed partial class CommandExamplesTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    [Fact]
    public void EveryDocumentedCommand_Parses()
    {
        var examples = Examples().ToList();

        // The extraction must keep finding the documents' examples, or this test would pass on nothing.
        Assert.Contains(examples, e => e.Command == "copilot-proxy doctor");
        Assert.Contains(examples, e => e.Command.StartsWith("copilot-proxy --check-config ", StringComparison.Ordinal));
        Assert.Contains(examples, e => e.Command == "/app/copilot-proxy --healthcheck");
        Assert.Contains(examples, e => e.Command == "copilot-proxy completion bash");

        var failures = examples
            .Select(e => (e.Where, e.Command, Errors: ParseErrors(e.Command)))
            .Where(e => e.Errors.Count > 0)
            .Select(e => $"{e.Where}: `{e.Command}`: {string.Join(" ", e.Errors)}")
            .ToList();
        Assert.True(failures.Count == 0, "These documented commands do not parse:\n  " + string.Join("\n  ", failures));
    }

    [Theory]
    [InlineData("copilot-proxy docter")]
    [InlineData("copilot-proxy clients --jsn")]
    [InlineData("copilot-proxy --check-config")]
    public void AMisspeltExample_WouldFailTheCheck(string command) => Assert.NotEmpty(ParseErrors(command));

    private static List<string> ParseErrors(string command)
    {
        var words = CommandLineParser.SplitCommandLine(command).Skip(1).ToList();
        return Program.CommandLine().Parse(words).Errors.Select(e => e.Message).ToList();
    }

    /// <summary>Inline code spans and lines of fenced blocks that run the binary (bare, <c>./</c>, <c>/app/</c>, <c>$ </c>, <c>&lt;(…)</c>).</summary>
    private static IEnumerable<(string Where, string Command)> Examples()
    {
        var documents = Directory.GetFiles(Path.Combine(RepoRoot, "docs"), "*.md").Append(Path.Combine(RepoRoot, "README.md"));
        foreach (var path in documents.Order(StringComparer.Ordinal))
        {
            var inBlock = false;
            var lines = File.ReadAllLines(path);
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    inBlock = !inBlock;
                    continue;
                }

                var where = $"{Path.GetRelativePath(RepoRoot, path)}:{i + 1}";
                var matches = inBlock ? BlockCommand().Matches(lines[i]) : InlineCommand().Matches(lines[i]);
                foreach (Match match in matches)
                {
                    yield return (where, ShellOperator().Split(match.Groups["command"].Value)[0].Trim());
                }
            }
        }
    }

    [GeneratedRegex(@"`(?<command>(?:\./|/app/)?copilot-proxy(?: [^`]+)?)`")]
    private static partial Regex InlineCommand();

    // A command ends at the end of the line or at a shell operator; anything else after the name (a diagram) is prose.
    [GeneratedRegex(@"(?:^\s*(?:\$ )?|<\(|\$\()(?<command>(?:\./|/app/|/usr/local/bin/)?copilot-proxy(?:[ \t]+[^\s|)&;#]+)*)(?=[ \t]*(?:$|[|)&;#]))")]
    private static partial Regex BlockCommand();

    /// <summary>Where the shell takes over from the command: a pipe (in a table cell escaped <c>\|</c>), a redirection, a list.</summary>
    [GeneratedRegex(@"\s+(?:\\?\||[0-9]?>|<|;|&&)")]
    private static partial Regex ShellOperator();

    private static string FindRepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "CopilotProxy.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
