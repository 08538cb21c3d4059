using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace CopilotProxy.Tests.Deploy;

/// <summary>
/// Reads deploy/kubernetes the way kustomize builds an overlay, for the parts the proxy's settings depend on: the
/// Deployment (base merged with the overlay's patches, list items matched by <c>name</c> as a strategic merge does),
/// the config.yaml the overlay's ConfigMap generator ships, and the image's own <c>ENV</c> lines from the Dockerfile.
/// </summary>
internal sealed partial class KubernetesManifests
{
    private const string ConfigMapName = "copilot-proxy-config";

    private KubernetesManifests(string overlay, YamlMappingNode deployment, string configFile, string configKey, IReadOnlyDictionary<string, string> imageEnvironment)
    {
        Overlay = overlay;
        Deployment = deployment;
        ConfigFile = configFile;
        ConfigKey = configKey;
        ImageEnvironment = imageEnvironment;
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string KubernetesRoot => Path.Combine(RepoRoot, "deploy", "kubernetes");

    public string Overlay { get; }

    /// <summary>The effective Deployment: the base's with the overlay's patches merged in.</summary>
    public YamlMappingNode Deployment { get; }

    /// <summary>The file on disk that the overlay's ConfigMap generator ships.</summary>
    public string ConfigFile { get; }

    /// <summary>The key that file gets in the ConfigMap, i.e. its file name in the mounted folder.</summary>
    public string ConfigKey { get; }

    /// <summary>The Dockerfile's <c>ENV</c> values: what the container has before the Deployment's <c>env</c>.</summary>
    public IReadOnlyDictionary<string, string> ImageEnvironment { get; }

    public YamlMappingNode PodSpec => Map(Map(Map(Deployment, "spec"), "template"), "spec");

    public YamlMappingNode Container => (YamlMappingNode)Seq(PodSpec, "containers").Children.Single();

    /// <summary>The container's literal <c>env</c> values (<c>valueFrom</c> entries are Secrets, not settings here).</summary>
    public IReadOnlyDictionary<string, string> ContainerEnvironment =>
        Seq(Container, "env").Children.Cast<YamlMappingNode>()
            .Where(e => e.Children.ContainsKey("value"))
            .ToDictionary(e => Scalar(e, "name"), e => Scalar(e, "value"), StringComparer.Ordinal);

    /// <summary>The process environment the proxy starts with: the image's, overridden by the Deployment's.</summary>
    public Dictionary<string, string> ProcessEnvironment
    {
        get
        {
            var environment = new Dictionary<string, string>(ImageEnvironment, StringComparer.Ordinal);
            foreach (var (name, value) in ContainerEnvironment)
            {
                environment[name] = value;
            }

            return environment;
        }
    }

    public static KubernetesManifests ForOverlay(string overlay)
    {
        var overlayDir = Path.Combine(KubernetesRoot, "overlays", overlay);
        var overlayKustomization = LoadSingle(Path.Combine(overlayDir, "kustomization.yaml"));
        var baseDir = Path.GetFullPath(Path.Combine(overlayDir, Seq(overlayKustomization, "resources").Children.Cast<YamlScalarNode>().Single().Value!));
        var baseKustomization = LoadSingle(Path.Combine(baseDir, "kustomization.yaml"));

        var deployment = Seq(baseKustomization, "resources").Children.Cast<YamlScalarNode>()
            .Select(r => LoadSingle(Path.Combine(baseDir, r.Value!)))
            .Single(d => Scalar(d, "kind") == "Deployment");
        if (overlayKustomization.Children.TryGetValue("patches", out var patches))
        {
            foreach (var patch in ((YamlSequenceNode)patches).Children.Cast<YamlMappingNode>())
            {
                var document = LoadSingle(Path.Combine(overlayDir, Scalar(patch, "path")));
                if (Scalar(document, "kind") == "Deployment")
                {
                    deployment = (YamlMappingNode)Merge(deployment, document);
                }
            }
        }

        // The overlay's generator replaces the base's (behavior: replace); without one the base's file ships.
        var (generatorDir, generator) = FindGenerator(overlayKustomization) is { } own ? (overlayDir, own) : (baseDir, FindGenerator(baseKustomization)!);
        var file = Seq(generator, "files").Children.Cast<YamlScalarNode>().Single().Value!;
        var (key, path) = file.Contains('=', StringComparison.Ordinal) ? (file.Split('=')[0], file.Split('=')[1]) : (Path.GetFileName(file), file);
        return new KubernetesManifests(overlay, deployment, Path.Combine(generatorDir, path), key, ReadDockerfileEnvironment());
    }

    /// <summary>A probe's or port's port, resolved by name against the container's ports as the kubelet does.</summary>
    public int ResolvePort(YamlNode port)
    {
        var value = ((YamlScalarNode)port).Value!;
        if (int.TryParse(value, out var number))
        {
            return number;
        }

        var named = Seq(Container, "ports").Children.Cast<YamlMappingNode>().SingleOrDefault(p => Scalar(p, "name") == value);
        Assert.True(named is not null, $"{Overlay}: no container port is named '{value}'");
        return int.Parse(Scalar(named, "containerPort"), System.Globalization.CultureInfo.InvariantCulture);
    }

    public int ContainerPort(string name) => ResolvePort(new YamlScalarNode(name));

    public static YamlMappingNode LoadSingle(string path)
    {
        var stream = new YamlStream();
        using var reader = File.OpenText(path);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    public static IEnumerable<YamlMappingNode> LoadAll(string path)
    {
        var stream = new YamlStream();
        using var reader = File.OpenText(path);
        stream.Load(reader);
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode);
    }

    public static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node.Children[key];

    public static YamlSequenceNode Seq(YamlMappingNode node, string key) => (YamlSequenceNode)node.Children[key];

    public static string Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node.Children[key]).Value!;

    /// <summary>A strategic merge, as far as these manifests need it: maps merge, lists of named items merge by name, others are replaced.</summary>
    private static YamlNode Merge(YamlNode target, YamlNode patch)
    {
        switch (target, patch)
        {
            case (YamlMappingNode t, YamlMappingNode p):
                var merged = new YamlMappingNode(t.Children);
                foreach (var (key, value) in p.Children)
                {
                    merged.Children[key] = merged.Children.TryGetValue(key, out var existing) ? Merge(existing, value) : value;
                }

                return merged;
            case (YamlSequenceNode t, YamlSequenceNode p) when IsNamedList(t) && IsNamedList(p):
                var items = t.Children.Cast<YamlMappingNode>().ToList();
                foreach (var item in p.Children.Cast<YamlMappingNode>())
                {
                    var index = items.FindIndex(i => Scalar(i, "name") == Scalar(item, "name"));
                    if (index < 0)
                    {
                        items.Add(item);
                    }
                    else
                    {
                        items[index] = (YamlMappingNode)Merge(items[index], item);
                    }
                }

                return new YamlSequenceNode(items);
            default:
                return patch;
        }
    }

    private static bool IsNamedList(YamlSequenceNode list) =>
        list.Children.All(c => c is YamlMappingNode m && m.Children.ContainsKey("name"));

    private static YamlMappingNode? FindGenerator(YamlMappingNode kustomization) =>
        kustomization.Children.TryGetValue("configMapGenerator", out var generators)
            ? ((YamlSequenceNode)generators).Children.Cast<YamlMappingNode>().SingleOrDefault(g => Scalar(g, "name") == ConfigMapName)
            : null;

    /// <summary>The final stage's <c>ENV</c> instruction (after the last <c>FROM</c>), continuation lines joined.</summary>
    private static Dictionary<string, string> ReadDockerfileEnvironment()
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot, "Dockerfile")).Replace("\\\n", " ", StringComparison.Ordinal);
        var finalStage = text[text.LastIndexOf("\nFROM ", StringComparison.Ordinal)..];
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in finalStage.Split('\n').Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)))
        {
            foreach (Match pair in EnvPair().Matches(line[4..]))
            {
                environment[pair.Groups["name"].Value] = pair.Groups["value"].Value;
            }
        }

        return environment;
    }

    /// <summary>The final stage's <c>USER</c>.</summary>
    public static string DockerfileUser()
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot, "Dockerfile"));
        return text.Split('\n').Last(l => l.StartsWith("USER ", StringComparison.Ordinal))[5..].Trim();
    }

    [GeneratedRegex(@"(?<name>[A-Za-z_][A-Za-z0-9_]*)=(?<value>\S*)")]
    private static partial Regex EnvPair();

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
