using System.Reflection;
using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Tests.Docs;

/// <summary>docs/configuration.md and docs/troubleshooting.md must follow the code: a new setting or warning fails here until documented.</summary>
public class DocsInSyncTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    [Fact]
    public void EverySetting_HasARowInTheSettingsTable()
    {
        var section = Section(File.ReadAllText(Path.Combine(RepoRoot, "docs", "configuration.md")), "## Settings");
        var missing = SettingsLoader.VariableNames.Where(name => !section.Contains($"| `{name}` |", StringComparison.Ordinal)).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void SettingsTable_NamesOnlyRealSettings()
    {
        var section = Section(File.ReadAllText(Path.Combine(RepoRoot, "docs", "configuration.md")), "## Settings");
        var rows = section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal) && l.Contains("` | ", StringComparison.Ordinal))
            .Select(l => l[3..l.IndexOf('`', 3)]).Where(n => n.All(c => c is (>= 'A' and <= 'Z') or '_')).ToList();
        Assert.Empty(rows.Except(SettingsLoader.VariableNames));
    }

    [Fact]
    public void EveryValidatedSetting_HasItsErrorInTroubleshooting()
    {
        var doc = File.ReadAllText(Path.Combine(RepoRoot, "docs", "troubleshooting.md"));
        string[] freeText = ["LMSTUDIO_API_KEY", "API_KEY", "CONFIG_FILE"];
        var missing = SettingsLoader.VariableNames.Except(freeText).Where(n => !doc.Contains($"`{n}='…' is not valid`", StringComparison.Ordinal)).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void EveryWarningOrErrorLogEvent_IsInTroubleshooting()
    {
        var doc = File.ReadAllText(Path.Combine(RepoRoot, "docs", "troubleshooting.md"));
        var events = typeof(SettingsLoader).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .Where(a => a is not null && a.Level >= LogLevel.Warning && a.Level != LogLevel.None)
            .Select(a => a!.EventId)
            .ToList();

        Assert.NotEmpty(events);
        var undocumented = events.Where(id => !doc.Contains($"| event {id} |", StringComparison.Ordinal)).ToList();
        Assert.Empty(undocumented);
    }

    private static string Section(string markdown, string heading)
    {
        var start = markdown.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no '{heading}' section");
        var end = markdown.IndexOf("\n## ", start + heading.Length + 2, StringComparison.Ordinal);
        return end < 0 ? markdown[start..] : markdown[start..end];
    }

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
