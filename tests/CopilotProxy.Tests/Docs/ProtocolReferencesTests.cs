using System.Text.RegularExpressions;

namespace CopilotProxy.Tests.Docs;

/// <summary>Source comments cite docs/protocol.md by section number; every cited section must exist there.</summary>
public sealed partial class ProtocolReferencesTests
{
    [Fact]
    public void EveryCitedSection_ExistsInDocsProtocol()
    {
        var root = FindRepoRoot();
        var protocol = File.ReadAllText(Path.Combine(root, "docs", "protocol.md"));
        var sections = Heading().Matches(protocol).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("1.4", sections);

        var missing = new List<string>();
        var cited = 0;
        foreach (var file in new[] { "src", "tests" }.SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*.*", SearchOption.AllDirectories)))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ||
                file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ||
                file.Contains("node_modules", StringComparison.Ordinal) || Path.GetExtension(file) is not (".cs" or ".mjs" or ".md"))
            {
                continue;
            }

            foreach (Match citation in Citation().Matches(File.ReadAllText(file)))
            {
                foreach (Capture section in citation.Groups[1].Captures)
                {
                    cited++;
                    if (!sections.Contains(section.Value))
                    {
                        missing.Add($"{Path.GetRelativePath(root, file)}: §{section.Value}");
                    }
                }
            }
        }

        // The source has dozens of citations; finding few means the pattern, not the code, is broken.
        Assert.True(cited >= 20, $"found only {cited} citations of protocol.md");
        Assert.True(missing.Count == 0, "Cited sections that docs/protocol.md does not have:\n  " + string.Join("\n  ", missing));
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CopilotProxy.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("CopilotProxy.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>"## 3. LM Studio" gives "3", "### 8.2 The …" gives "8.2".</summary>
    [GeneratedRegex(@"^#{2,3} (\d+(?:\.\d+)?)\.?\s", RegexOptions.Multiline)]
    private static partial Regex Heading();

    /// <summary>"protocol.md §1.4", "protocol.md §2.4/§2.5", "protocol.md` §3 and §8.6".</summary>
    [GeneratedRegex(@"protocol\.md`? (?:(?:and |/|, )?§(\d+(?:\.\d+)?))+")]
    private static partial Regex Citation();
}
