using CopilotProxy.Configuration;

namespace CopilotProxy.Tests.Configuration;

/// <summary>Where config.yaml and the gateway key live when they are not in the working directory.</summary>
public sealed class SettingsFolderTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("copilot-proxy-home-").FullName;

    [Theory]
    [InlineData(UserPlatform.Linux, "HOME=/home/ann", "/home/ann/.config/copilot-proxy")]
    [InlineData(UserPlatform.Linux, "HOME=/home/ann;XDG_CONFIG_HOME=/data/cfg/", "/data/cfg/copilot-proxy")]
    [InlineData(UserPlatform.Linux, "HOME=/home/ann;XDG_CONFIG_HOME=relative/cfg", "/home/ann/.config/copilot-proxy")]
    [InlineData(UserPlatform.MacOS, "HOME=/Users/ann", "/Users/ann/Library/Application Support/copilot-proxy")]
    [InlineData(UserPlatform.Windows, @"APPDATA=C:\Users\ann\AppData\Roaming", @"C:\Users\ann\AppData\Roaming\copilot-proxy")]
    [InlineData(UserPlatform.Linux, "", null)]
    public void Resolve_IsThePlatformsUserConfigFolder(UserPlatform platform, string environment, string? expected)
    {
        var values = environment.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(v => v.Split('=', 2)).ToDictionary(v => v[0], v => v[1]);

        Assert.Equal(expected, SettingsFolder.Resolve(platform, values.GetValueOrDefault));
    }

    [Fact]
    public void ConfigYaml_InTheSettingsFolder_IsReadWhenTheWorkingDirectoryHasNone()
    {
        var folder = SettingsFolder.Resolve(SettingsFolder.CurrentPlatform, Environment)!;
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, "config.yaml");
        File.WriteAllText(file, "model_list: []\n");

        var location = GatewayConfigLoader.ResolveLocation(Environment);

        Assert.Equal(new ConfigFileLocation(file, IsExplicit: false), location);
        Assert.True(GatewayConfigLoader.Load(location, Environment).Config!.IsFilePresent);
    }

    [Fact]
    public void NoConfigYamlAnywhere_SaysBothPlacesItLooked()
    {
        var location = GatewayConfigLoader.ResolveLocation(Environment);

        Assert.Equal(new ConfigFileLocation("config.yaml", IsExplicit: false), location);
        Assert.Equal($"neither {Path.GetFullPath("config.yaml")} nor {GatewayConfigLoader.UserFile(Environment)} exists",
            GatewayConfigLoader.DescribeSearched(location.Path, Environment));
    }

    [Fact]
    public void KeyFileInTheSettingsFolder_IsTheGatewayKey_AndApiKeyFileNamesAnother()
    {
        var folder = SettingsFolder.Resolve(SettingsFolder.CurrentPlatform, Environment)!;
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "api-key"), "  from-the-folder  \nsecond line ignored\n");
        var other = Path.Combine(_home, "mounted-secret");
        File.WriteAllText(other, "from-api-key-file");

        var implicitKey = SettingsLoader.Load(Environment).Settings!;
        var explicitKey = SettingsLoader.Load(n => n == "API_KEY_FILE" ? other : Environment(n)).Settings!;

        Assert.Equal("from-the-folder", implicitKey.ApiKey);
        Assert.Equal(Path.Combine(folder, "api-key"), implicitKey.ApiKeyFile);
        Assert.Equal("from-api-key-file", explicitKey.ApiKey);
        Assert.Equal("plain", SettingsLoader.Load(n => n == "API_KEY" ? "plain" : Environment(n)).Settings!.ApiKey);
    }

    [Fact]
    public void ApiKeyAndApiKeyFile_BothSet_IsAnError_AndAnEmptyKeyFileToo()
    {
        var empty = Path.Combine(_home, "empty-key");
        File.WriteAllText(empty, "\n");

        var both = SettingsLoader.Load(n => n switch { "API_KEY" => "a", "API_KEY_FILE" => empty, _ => null });
        var blank = SettingsLoader.Load(n => n == "API_KEY_FILE" ? empty : null);

        Assert.StartsWith("API_KEY and API_KEY_FILE are both set", Assert.Single(both.Errors), StringComparison.Ordinal);
        Assert.Contains("found nothing", Assert.Single(blank.Errors), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private string? Environment(string name) => name switch
    {
        "HOME" => _home,
        "APPDATA" => Path.Combine(_home, "AppData", "Roaming"),
        _ => null,
    };
}
