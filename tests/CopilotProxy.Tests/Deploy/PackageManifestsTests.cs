using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using CopilotProxy.Installation;
using YamlDotNet.RepresentationModel;

namespace CopilotProxy.Tests.Deploy;

/// <summary>
/// eng/package-manifests.sh, run on dummy release assets as the release workflow runs it on real ones: each manifest has the
/// fields its package manager requires, every URL names a release asset, and every checksum is that asset's sha256.
/// No linter for these formats runs offline here (brew style needs Homebrew), so the structure is checked field by field.
/// </summary>
public sealed partial class PackageManifestsTests : IDisposable
{
    private const string Version = "1.2.0";
    private const string Repository = "https://github.com/acme/lmstudio-copilot-proxy";
    private static readonly string[] Rids = ["linux-x64", "linux-arm64", "osx-arm64", "osx-x64", "win-x64"];

    private readonly string _directory = Directory.CreateTempSubdirectory("copilot-proxy-manifests-").FullName;
    private readonly Dictionary<string, string> _sha256 = new(StringComparer.Ordinal);

    public PackageManifestsTests()
    {
        Directory.CreateDirectory(Assets);
        foreach (var rid in Rids)
        {
            var name = AssetName(rid);
            var bytes = System.Text.Encoding.UTF8.GetBytes($"dummy {rid} archive");
            File.WriteAllBytes(Path.Combine(Assets, name), bytes);
            _sha256[name] = Convert.ToHexStringLower(SHA256.HashData(bytes));
        }
    }

    private string Assets => Path.Combine(_directory, "dist");

    private string Out => Path.Combine(_directory, "manifests");

    [Fact]
    public async Task HomebrewFormula_HasEveryPlatformsUrlAndChecksum_AndTheFieldsBrewRequires()
    {
        await GenerateAsync();
        var formula = await File.ReadAllTextAsync(Path.Combine(Out, "homebrew", "copilot-proxy.rb"));

        Assert.Matches(@"(?m)^class CopilotProxy < Formula$", formula);
        foreach (var field in new[] { "desc", "homepage", "version", "license" })
        {
            Assert.Matches($@"(?m)^  {field} ""[^""]+""$", formula);
        }

        // Each url line is followed by the sha256 of exactly that asset, for the four macOS and Linux archives.
        var pairs = UrlAndSha().Matches(formula).Select(m => (Url: m.Groups[1].Value, Sha: m.Groups[2].Value)).ToList();
        Assert.Equal(4, pairs.Count);
        foreach (var rid in Rids.Where(r => !r.StartsWith("win", StringComparison.Ordinal)))
        {
            var pair = Assert.Single(pairs, p => p.Url == $"{Repository}/releases/download/v{Version}/{AssetName(rid)}");
            Assert.Equal(_sha256[AssetName(rid)], pair.Sha);
        }

        Assert.Contains("    bin.install \"copilot-proxy\"", formula, StringComparison.Ordinal);
        Assert.Contains("copilot-proxy --version", formula, StringComparison.Ordinal);
        // Ruby blocks balance: every class, def and do has its end.
        var opened = Regex.Count(formula, @"(?m)^\s*(class|def)\b") + Regex.Count(formula, @"\bdo\s*$", RegexOptions.Multiline);
        Assert.Equal(opened, Regex.Count(formula, @"(?m)^\s*end$"));
        if (await ServiceRunner.CaptureAsync(new RunCommand("ruby", ["-c", Path.Combine(Out, "homebrew", "copilot-proxy.rb")])) is { } ruby)
        {
            Assert.True(ruby.ExitCode == 0, ruby.Output);
        }
    }

    [Fact]
    public async Task ScoopManifest_IsJsonWithTheWindowsZipsUrlAndHash()
    {
        await GenerateAsync();
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Out, "scoop", "copilot-proxy.json")));
        var root = manifest.RootElement;

        Assert.Equal(Version, root.GetProperty("version").GetString());
        Assert.Equal(Repository, root.GetProperty("homepage").GetString());
        Assert.Equal("MIT", root.GetProperty("license").GetString());
        Assert.Equal("copilot-proxy.exe", root.GetProperty("bin").GetString());
        var x64 = root.GetProperty("architecture").GetProperty("64bit");
        Assert.Equal($"{Repository}/releases/download/v{Version}/{AssetName("win-x64")}", x64.GetProperty("url").GetString());
        Assert.Equal(_sha256[AssetName("win-x64")], x64.GetProperty("hash").GetString());
        Assert.Contains("$version", root.GetProperty("autoupdate").GetProperty("architecture").GetProperty("64bit").GetProperty("url").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WingetManifests_AreTheThreeFilesOfOneVersion_WithUpperCaseSha256()
    {
        await GenerateAsync();
        var folder = Path.Combine(Out, "winget", "manifests", "a", "acme", "CopilotProxy", Version);
        var files = Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(["acme.CopilotProxy.installer.yaml", "acme.CopilotProxy.locale.en-US.yaml", "acme.CopilotProxy.yaml"], files);
        var version = Yaml(Path.Combine(folder, "acme.CopilotProxy.yaml"));
        var installer = Yaml(Path.Combine(folder, "acme.CopilotProxy.installer.yaml"));
        var locale = Yaml(Path.Combine(folder, "acme.CopilotProxy.locale.en-US.yaml"));
        foreach (var (manifest, type) in new[] { (version, "version"), (installer, "installer"), (locale, "defaultLocale") })
        {
            Assert.Equal("acme.CopilotProxy", Scalar(manifest, "PackageIdentifier"));
            Assert.Equal(Version, Scalar(manifest, "PackageVersion"));
            Assert.Equal(type, Scalar(manifest, "ManifestType"));
            Assert.Equal("1.6.0", Scalar(manifest, "ManifestVersion"));
        }

        Assert.Equal("en-US", Scalar(version, "DefaultLocale"));
        Assert.Equal("zip", Scalar(installer, "InstallerType"));
        Assert.Equal("portable", Scalar(installer, "NestedInstallerType"));
        var entry = (YamlMappingNode)((YamlSequenceNode)installer.Children[new YamlScalarNode("Installers")]).Children.Single();
        Assert.Equal("x64", Scalar(entry, "Architecture"));
        Assert.Equal($"{Repository}/releases/download/v{Version}/{AssetName("win-x64")}", Scalar(entry, "InstallerUrl"));
        Assert.Equal(_sha256[AssetName("win-x64")].ToUpperInvariant(), Scalar(entry, "InstallerSha256"));
        var nested = (YamlMappingNode)((YamlSequenceNode)installer.Children[new YamlScalarNode("NestedInstallerFiles")]).Children.Single();
        Assert.Equal("copilot-proxy.exe", Scalar(nested, "RelativeFilePath"));
        Assert.Equal("copilot-proxy", Scalar(nested, "PortableCommandAlias"));
        foreach (var field in new[] { "Publisher", "PackageName", "License", "ShortDescription" })
        {
            Assert.False(string.IsNullOrWhiteSpace(Scalar(locale, field)), field);
        }
    }

    [Fact]
    public async Task AMissingAsset_FailsNamingIt_AndWritesNoFormula()
    {
        File.Delete(Path.Combine(Assets, AssetName("osx-x64")));

        var result = await RunScriptAsync();

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"{AssetName("osx-x64")} is missing", result.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Out, "homebrew", "copilot-proxy.rb")));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string AssetName(string rid) => $"copilot-proxy-{Version}-{rid}.{(rid.StartsWith("win", StringComparison.Ordinal) ? "zip" : "tar.gz")}";

    private async Task GenerateAsync()
    {
        var result = await RunScriptAsync();
        Assert.True(result.ExitCode == 0, result.Output);
    }

    private async Task<(int ExitCode, string Output)> RunScriptAsync()
    {
        var script = Path.Combine(KubernetesManifests.RepoRoot, "eng", "package-manifests.sh");
        var result = await ServiceRunner.CaptureAsync(new RunCommand("bash", [script, Assets, Version, Repository, Out]));
        return result ?? throw new InvalidOperationException("bash is not installed");
    }

    private static YamlMappingNode Yaml(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value : null;

    [GeneratedRegex("""url "([^"]+)"\n\s+sha256 "([0-9a-f]{64})"\n""")]
    private static partial Regex UrlAndSha();
}
