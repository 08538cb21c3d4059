using System.Text.Json;
using System.Text.RegularExpressions;
using CopilotProxy.Configuration;
using CopilotProxy.Diagnostics;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Docs;

/// <summary>
/// docs/clients.md shows what <c>copilot-proxy clients</c> prints for a reference LM Studio (the default ports, no key,
/// the two models below): each example block is marked with <c>&lt;!-- clients: {setup id} / {snippet label} --&gt;</c>
/// and must equal that snippet, and every snippet of every setup must be in the page.
/// </summary>
public sealed partial class ClientsDocTests
{
    /// <summary>The models the page is written for: a thinking, tool-trained Qwen loaded at 32K and a vision Gemma at 16K.</summary>
    private static readonly FakeModel[] ReferenceModels =
    [
        FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 32768, reasoning: true),
        FakeModel.Llm("google/gemma-3-12b", loadedContextLength: 16384, vision: true) with { Architecture = "gemma3" },
        FakeModel.Embedding("text-embedding-nomic-embed-text-v1.5"),
    ];

    [Fact]
    public async Task EveryExample_IsWhatTheClientsCommandPrints_AndEverySnippetIsShown()
    {
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.AddRange(ReferenceModels);
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var exit = await ClientsCommand.RunAsync(new ProxySettings { LmStudioUrl = upstream.BaseUrl }, null, json: true, output, errors, TestContext.Current.CancellationToken);
        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output.ToString());
        var snippets = json.RootElement.GetProperty("setups").EnumerateArray()
            .SelectMany(s => s.GetProperty("snippets").EnumerateArray().Select(n => (Key: $"{s.GetProperty("id").GetString()} / {n.GetProperty("label").GetString()}", Text: n.GetProperty("text").GetString()!)))
            .ToDictionary(p => p.Key, p => p.Text);

        var page = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "clients.md")).ReplaceLineEndings("\n");
        var examples = Example().Matches(page).ToDictionary(m => m.Groups["key"].Value, m => m.Groups["text"].Value.TrimEnd('\n'));

        Assert.Empty(examples.Keys.Except(snippets.Keys));
        Assert.All(snippets, snippet =>
        {
            Assert.True(examples.TryGetValue(snippet.Key, out var shown), $"docs/clients.md lacks the example '{snippet.Key}':\n{snippet.Value}");
            Assert.True(shown == snippet.Value, $"docs/clients.md's example '{snippet.Key}' differs from `copilot-proxy clients`; it prints:\n{snippet.Value}");
        });
    }

    [Fact]
    public void Readme_LinksTheClientsPage()
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        Assert.Contains("(docs/clients.md)", readme, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"<!-- clients: (?<key>[^>]+?) -->\n```[a-z]*\n(?<text>.*?)```", RegexOptions.Singleline)]
    private static partial Regex Example();

    private static string RepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "CopilotProxy.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
