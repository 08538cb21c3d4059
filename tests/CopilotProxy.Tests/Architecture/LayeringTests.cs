using System.Text.RegularExpressions;
using CopilotProxy.Hosting;

namespace CopilotProxy.Tests.Architecture;

/// <summary>
/// The folder rules of docs/architecture.md, enforced: dependencies point down the numbered "Layers" list (parsed from the
/// document, so the document and this test cannot drift), the folder graph has no cycle, every src folder is documented,
/// test folders mirror src folders, and no source file grows past <see cref="MaxLines"/> lines without saying why.
/// </summary>
public sealed partial class LayeringTests
{
    /// <summary>The longest a src file may be without a <c>long-file:</c> reason in its comments.</summary>
    private const int MaxLines = 400;

    /// <summary>The marker that exempts a long file; it must be followed by the reason, in a comment.</summary>
    private const string LongFileMarker = "long-file:";

    /// <summary>
    /// Files over the limit before issue 10's split of the request/stream core landed. The integrator empties this list
    /// after merging wave/pipeline; do not add to it (write a <c>long-file:</c> reason or split the file instead).
    /// </summary>
    private static readonly string[] LongFilesPendingIssue10 =
    [
        // Issue 10's long files (SseRelay, OllamaTranslator, ChatTranslation, ChunkTranslator) are split; none left.
    ];

    /// <summary>Test folders that test no single src folder, and why.</summary>
    private static readonly Dictionary<string, string> TestFoldersWithoutSrcFolder = new(StringComparer.Ordinal)
    {
        ["Architecture"] = "rules over the whole product",
        ["Reliability"] = "property tests, fuzz regressions and client limits over the whole request path, both front doors (issue 15)",
        ["Clients"] = "real client libraries (npm, NuGet) against both front doors",
        ["Deploy"] = "deploy/ manifests checked against the proxy's settings",
        ["Docs"] = "the documents follow the code",
        ["Harness"] = "the fake upstream, the in-process proxy and their own tests",
        ["Transcripts"] = "captured and expected wire bytes, no code",
    };

    private static readonly string RepoRoot = FindRepoRoot();
    private static readonly string SrcRoot = Path.Combine(RepoRoot, "src", "CopilotProxy");
    private static readonly string ArchitectureDoc = File.ReadAllText(Path.Combine(RepoRoot, "docs", "architecture.md"));

    [Fact]
    public void EveryDependency_PointsDownTheDocumentedLayers()
    {
        var layers = DocumentedLayers();
        var upstreamLayer = layers["Upstream"];
        var violations = new List<string>();
        foreach (var (from, to) in CrossFolderDependencies())
        {
            var (fromFolder, toFolder) = (FolderOf(from)!, FolderOf(to)!);
            if (!layers.TryGetValue(fromFolder, out var fromLayer) || !layers.TryGetValue(toFolder, out var toLayer))
            {
                continue; // EverySrcFolder_IsInTheFolderListAndTheLayers names the missing folder.
            }

            var wireAllowed = IsWire(to) && fromLayer > upstreamLayer;
            if (fromLayer <= toLayer && !wireAllowed)
            {
                violations.Add($"{from.FullName} ({fromFolder}, layer {fromLayer}) uses {to.FullName} ({toFolder}, layer {toLayer})");
            }
        }

        Assert.True(violations.Count == 0,
            "These dependencies point up or sideways in docs/architecture.md's Layers list (a folder may use only folders " +
            "below it, and *.Wire types from any folder above Upstream). Move the type down, or the code up:\n  " +
            string.Join("\n  ", violations.Distinct().Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void FolderGraph_HasNoCycles()
    {
        var edges = new Dictionary<(string From, string To), string>();
        foreach (var (from, to) in ProductDependencies().Where(d => NodeOf(d.From) != NodeOf(d.To)))
        {
            // A folder's Wire namespace is its own node: wire types are shared downwards by design (Http uses OpenAI.Wire),
            // but a wire type that used its folder's code would close a cycle.
            edges.TryAdd((NodeOf(from), NodeOf(to)), $"{from.FullName} → {to.FullName}");
        }

        var cycles = StronglyConnected(edges.Keys).Where(c => c.Count > 1).ToList();
        var report = cycles.Select(c => string.Join(", ", c) + ":\n    " +
            string.Join("\n    ", edges.Where(e => c.Contains(e.Key.From) && c.Contains(e.Key.To)).Select(e => e.Value)));
        Assert.True(cycles.Count == 0, "Folders that depend on each other (one example type per direction):\n  " + string.Join("\n  ", report));
    }

    [Fact]
    public void EverySrcFolder_IsInTheFolderListAndTheLayers()
    {
        var folders = Directory.GetDirectories(SrcRoot).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).Select(f => f!).ToList();
        var listed = FolderListBlock();
        var layers = DocumentedLayers();
        var namespaces = ProductTypes().Select(FolderOf).OfType<string>().Distinct();

        var notListed = folders.Where(f => !Regex.IsMatch(listed, $@"^\s+{Regex.Escape(f)}/", RegexOptions.Multiline)).ToList();
        var notLayered = folders.Concat(namespaces).Distinct().Where(f => !layers.ContainsKey(f)).ToList();
        var gone = layers.Keys.Where(l => !folders.Contains(l)).ToList();

        Assert.True(notListed.Count == 0, $"docs/architecture.md's folder list does not name: {string.Join(", ", notListed)}");
        Assert.True(notLayered.Count == 0, $"docs/architecture.md's Layers list does not place: {string.Join(", ", notLayered)}");
        Assert.True(gone.Count == 0, $"docs/architecture.md's Layers list names folders that do not exist: {string.Join(", ", gone)}");
    }

    [Fact]
    public void NoSourceFile_IsLongerThanTheLimit_WithoutAReason()
    {
        var tooLong = new List<string>();
        foreach (var file in Directory.EnumerateFiles(SrcRoot, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(RepoRoot, file).Replace('\\', '/');
            if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
            {
                continue;
            }

            var lines = File.ReadAllLines(file);
            var exempt = lines.Any(l => l.TrimStart().StartsWith("//", StringComparison.Ordinal) && LongFileReason().IsMatch(l));
            if (lines.Length > MaxLines && !exempt && !LongFilesPendingIssue10.Contains(relative))
            {
                tooLong.Add($"{relative}: {lines.Length} lines");
            }
        }

        Assert.True(tooLong.Count == 0,
            $"Over {MaxLines} lines: split the file, or say in a comment why it is one piece (\"// {LongFileMarker} <reason>\"):\n  " +
            string.Join("\n  ", tooLong));
    }

    [Fact]
    public void LongFileAllowList_NamesOnlyFilesThatAreStillLong()
    {
        // Keeps the allow-list honest while it exists: once a file is split, its entry must go.
        var stale = LongFilesPendingIssue10.Where(f => !File.Exists(Path.Combine(RepoRoot, f)) || File.ReadAllLines(Path.Combine(RepoRoot, f)).Length <= MaxLines).ToList();
        Assert.True(stale.Count == 0, $"Remove from LongFilesPendingIssue10 (no longer over {MaxLines} lines): {string.Join(", ", stale)}");
    }

    [Fact]
    public void TestFolders_MirrorSrcFolders()
    {
        var testRoot = Path.Combine(RepoRoot, "tests", "CopilotProxy.Tests");
        var srcFolders = Directory.GetDirectories(SrcRoot).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        var strays = Directory.GetDirectories(testRoot).Select(Path.GetFileName).Select(f => f!)
            .Where(f => f is not ("bin" or "obj") && !srcFolders.Contains(f) && !TestFoldersWithoutSrcFolder.ContainsKey(f))
            .ToList();
        Assert.True(strays.Count == 0,
            $"Test folders with no src folder of the same name: {string.Join(", ", strays)}. Move the tests to the folder of the code they test.");
    }

    [Fact]
    public void LayersList_IsParsedFromTheDocument()
    {
        // The rule is only as good as the parse: the list must be there, start at Configuration and end at Hosting.
        var layers = DocumentedLayers();
        Assert.Equal(1, layers["Configuration"]);
        Assert.Equal(layers.Values.Max(), layers["Hosting"]);
        Assert.True(layers.Count >= 11, $"parsed only {layers.Count} folders from the Layers list");
    }

    /// <summary>Folder → layer number, from the numbered list after "Layers, lowest first".</summary>
    private static Dictionary<string, int> DocumentedLayers()
    {
        var start = ArchitectureDoc.IndexOf("Layers, lowest first", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no \"Layers, lowest first\" list");
        var layers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match item in LayerItem().Matches(ArchitectureDoc[start..]))
        {
            var number = int.Parse(item.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            // Only the backticked names before any parenthesis are folders; "(depends on nothing)" is prose.
            var names = item.Groups[2].Value.Split('(')[0];
            foreach (Match name in BacktickedName().Matches(names))
            {
                layers[name.Groups[1].Value] = number;
            }
        }

        return layers;
    }

    private static string FolderListBlock()
    {
        var start = ArchitectureDoc.IndexOf("src/CopilotProxy/", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no src/CopilotProxy/ folder list");
        var end = ArchitectureDoc.IndexOf("```", start, StringComparison.Ordinal);
        return ArchitectureDoc[start..end];
    }

    private static IEnumerable<Type> ProductTypes() => typeof(ProxyApp).Assembly.GetTypes().Where(t => FolderOf(t) is not null);

    private static IEnumerable<(Type From, Type To)> CrossFolderDependencies() =>
        ProductDependencies().Where(d => FolderOf(d.From) != FolderOf(d.To));

    /// <summary>Every use of one product type by another, both inside a product folder.</summary>
    private static IEnumerable<(Type From, Type To)> ProductDependencies()
    {
        var product = typeof(ProxyApp).Assembly;
        foreach (var from in ProductTypes())
        {
            foreach (var to in TypeDependencies.Of(from))
            {
                if (to.Assembly == product && FolderOf(to) is not null)
                {
                    yield return (from, to);
                }
            }
        }
    }

    /// <summary>"CopilotProxy.Ollama.Wire.ChatRequest" → "Ollama"; null for types outside a product folder (Program, generated code).</summary>
    private static string? FolderOf(Type type)
    {
        var ns = type.Namespace;
        if (ns is null || !ns.StartsWith("CopilotProxy.", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = ns["CopilotProxy.".Length..];
        var dot = rest.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? rest : rest[..dot];
    }

    private static string NodeOf(Type type) => IsWire(type) ? FolderOf(type) + ".Wire" : FolderOf(type)!;

    private static bool IsWire(Type type) => type.Namespace?.EndsWith(".Wire", StringComparison.Ordinal) == true;

    /// <summary>Tarjan's algorithm: the groups of folders that reach each other.</summary>
    private static List<List<string>> StronglyConnected(IEnumerable<(string From, string To)> edges)
    {
        var graph = edges.GroupBy(e => e.From).ToDictionary(g => g.Key, g => g.Select(e => e.To).ToList());
        var nodes = graph.Keys.Concat(graph.Values.SelectMany(v => v)).Distinct().Order(StringComparer.Ordinal).ToList();
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var result = new List<List<string>>();

        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            foreach (var next in graph.GetValueOrDefault(node) ?? [])
            {
                if (!index.TryGetValue(next, out var seen))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (stack.Contains(next))
                {
                    low[node] = Math.Min(low[node], seen);
                }
            }

            if (low[node] == index[node])
            {
                var group = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    group.Add(member);
                }
                while (member != node);
                result.Add(group);
            }
        }

        foreach (var node in nodes.Where(n => !index.ContainsKey(n)))
        {
            Visit(node);
        }

        return result;
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

    [GeneratedRegex(@"^(\d+)\.\s+(.*)$", RegexOptions.Multiline)]
    private static partial Regex LayerItem();

    [GeneratedRegex(@"`([A-Za-z]+)`")]
    private static partial Regex BacktickedName();

    [GeneratedRegex(@"long-file:\s*\S+\s+\S+")]
    private static partial Regex LongFileReason();
}
