using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using static CopilotProxy.Configuration.ConfigReader;

namespace CopilotProxy.Configuration;

/// <summary>
/// Reads a LiteLLM-format <c>config.yaml</c> into a <see cref="GatewayConfig"/>, collecting every error with its line.
/// </summary>
/// <remarks>
/// NOTE: only YamlDotNet's representation model is used (nodes with line marks), walked by hand, because the
/// reflection-based deserializer is neither AOT-clean nor able to say which line a bad value came from.
/// This class finds and opens the file and dispatches the top-level sections; <see cref="ConfigReader"/> reads scalars and
/// records errors, and there is one reader per section (<see cref="ModelListReader"/>, <see cref="LiteLlmParamsReader"/>,
/// <see cref="RouterSettingsReader"/>, <see cref="LiteLlmSettingsReader"/>, <see cref="GeneralSettingsReader"/>,
/// <see cref="EnvironmentVariablesReader"/>).
/// </remarks>
public static class GatewayConfigLoader
{
    /// <summary>The <c>CONFIG_FILE</c> environment variable.</summary>
    public const string ConfigFileVariable = "CONFIG_FILE";

    private const string ContainerFile = "/app/config.yaml";
    private const string ContainerFolderFile = "/app/config/config.yaml";
    private const string WorkingDirectoryFile = "config.yaml";

    /// <summary>
    /// Where the file is looked for: <c>CONFIG_FILE</c> if set (explicit); in a container <c>/app/config.yaml</c>, else
    /// <c>/app/config/config.yaml</c>; elsewhere <c>./config.yaml</c>, else <c>config.yaml</c> in the user's settings folder
    /// (<see cref="SettingsFolder"/>), else (neither exists) <c>./config.yaml</c>, so a file created there later is found.
    /// </summary>
    public static ConfigFileLocation ResolveLocation(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var configured = environment(ConfigFileVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return new ConfigFileLocation(configured, IsExplicit: true);
        }

        // The .NET container images set DOTNET_RUNNING_IN_CONTAINER. Inside the container a file mounted at
        // /app/config.yaml wins; otherwise the compose file's ./config folder mount (/app/config/config.yaml) is used. A
        // default location may be absent (zero configuration); only a path named in CONFIG_FILE must exist.
        var inContainer = string.Equals(environment("DOTNET_RUNNING_IN_CONTAINER"), "true", StringComparison.OrdinalIgnoreCase);
        if (!inContainer)
        {
            var userFile = UserFile(environment);
            return new ConfigFileLocation(
                !File.Exists(WorkingDirectoryFile) && userFile is not null && File.Exists(userFile) ? userFile : WorkingDirectoryFile, IsExplicit: false);
        }

        return new ConfigFileLocation(File.Exists(ContainerFile) ? ContainerFile : ContainerFolderFile, IsExplicit: false);
    }

    /// <summary><c>config.yaml</c> in the user's settings folder; null when the environment names no home folder.</summary>
    public static string? UserFile(Func<string, string?> environment) =>
        SettingsFolder.Resolve(SettingsFolder.CurrentPlatform, environment) is { } folder ? Path.Combine(folder, WorkingDirectoryFile) : null;

    /// <summary>Where a zero-configuration start looked, for the start-up log and doctor: "./config.yaml (full path) nor …".</summary>
    public static string DescribeSearched(string sourcePath, Func<string, string?> environment)
    {
        var looked = Path.GetFullPath(sourcePath);
        return UserFile(environment) is { } user && user != looked ? $"neither {looked} nor {user} exists" : $"{looked} does not exist";
    }

    /// <summary>
    /// Loads the file at <paramref name="location"/>. A missing file at the default path gives <see cref="GatewayConfig.Empty"/>
    /// with <see cref="GatewayConfig.IsFilePresent"/> false; a missing explicit path is a <see cref="ConfigErrorKind.FileNotFound"/> error.
    /// </summary>
    public static GatewayConfigLoadResult Load(ConfigFileLocation location, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(environment);

        if (!File.Exists(location.Path))
        {
            if (!location.IsExplicit)
            {
                return new GatewayConfigLoadResult { Config = GatewayConfig.Empty with { SourcePath = location.Path } };
            }

            return Failed(new ConfigError(ConfigErrorKind.FileNotFound, location.Path, 0, "",
                $"the file given in {ConfigFileVariable} does not exist (full path {Path.GetFullPath(location.Path)})"));
        }

        string text;
        try
        {
            text = File.ReadAllText(location.Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Failed(new ConfigError(ConfigErrorKind.Unreadable, location.Path, 0, "", $"cannot be read: {e.Message}"));
        }

        var result = Parse(text, location.Path, environment);
        return result.Config is null ? result : result with { Config = result.Config with { SourcePath = location.Path } };
    }

    /// <summary>Parses YAML text; <paramref name="sourceName"/> prefixes every error message.</summary>
    public static GatewayConfigLoadResult Parse(string yaml, string sourceName, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(environment);

        var stream = new YamlStream();
        try
        {
            // MergingParser gives `<<: *defaults` the meaning PyYAML (and so LiteLLM) gives it.
            stream.Load(new MergingParser(new Parser(new StringReader(yaml))));
        }
        catch (YamlException e)
        {
            return Failed(new ConfigError(ConfigErrorKind.Syntax, sourceName, LineOf(e.Start), "",
                $"not valid YAML: {StripMarkPrefix(e.Message)}"));
        }

        var reader = new ConfigReader(sourceName, environment);
        var config = ReadDocument(reader, stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode);
        return reader.Errors.Count > 0
            ? new GatewayConfigLoadResult { Errors = reader.Errors }
            : new GatewayConfigLoadResult { Config = config };
    }

    private static GatewayConfigLoadResult Failed(ConfigError error) => new() { Errors = [error] };

    // YamlException messages start with "(Line: 3, Col: 5, Idx: 20) - (Line: …): "; the line is already in our prefix.
    private static string StripMarkPrefix(string message)
    {
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0 ? message[(marker + 3)..] : message;
    }

    /// <summary>Reads the top level: each section goes to its reader, then router_settings and litellm_settings merge.</summary>
    private static GatewayConfig ReadDocument(ConfigReader reader, YamlNode? root)
    {
        // An empty file is a valid, empty configuration (PyYAML loads it as None).
        if (root is null || IsNull(root))
        {
            return new GatewayConfig { IsFilePresent = true };
        }

        if (root is not YamlMappingNode top)
        {
            reader.Error(root, "", $"expected a mapping with model_list, general_settings, … at the top level, got {Describe(root)}");
            return GatewayConfig.Empty;
        }

        // environment_variables first: os.environ/ references anywhere in the file may name them (LiteLLM sets them
        // into os.environ before it reads model_list).
        if (Find(top, "environment_variables") is { } envNode)
        {
            reader.ConfigEnvironment = EnvironmentVariablesReader.Read(reader, envNode);
        }

        IReadOnlyList<ModelEntry> models = [];
        string? masterKey = null;
        string? databaseUrl = null;
        var router = new RouterPart();
        var litellm = new RouterPart();
        var dropParams = false;

        foreach (var (keyNode, value) in top.Children)
        {
            if (reader.KeyOf(keyNode, "") is not { } key)
            {
                continue;
            }

            switch (key)
            {
                case "model_list":
                    models = ModelListReader.Read(reader, value);
                    break;
                case "general_settings":
                    (masterKey, databaseUrl) = GeneralSettingsReader.Read(reader, value);
                    break;
                case "router_settings":
                    router = RouterSettingsReader.Read(reader, value);
                    break;
                case "litellm_settings":
                    (litellm, dropParams) = LiteLlmSettingsReader.Read(reader, value);
                    break;
                case "environment_variables":
                    break;
                case "include":
                    reader.Error(keyNode, key, "including other files is not supported; put everything in this one file",
                        ConfigErrorKind.Unsupported);
                    break;
                default:
                    reader.Ignore(keyNode, key, IgnoredTopLevelReason(key));
                    break;
            }
        }

        var routerSettings = RouterSettingsReader.Merge(reader, router, litellm);
        return new GatewayConfig
        {
            Models = models,
            MasterKey = masterKey,
            DatabaseUrl = databaseUrl,
            Router = routerSettings,
            LiteLlm = new LiteLlmSettings { DropParams = dropParams, RequestTimeout = litellm.Timeout },
            EnvironmentVariables = reader.ConfigEnvironment.AsReadOnly(),
            Ignored = reader.Ignored.OrderBy(w => w.Line).ToArray(),
            IsFilePresent = true,
        };
    }

    private static string IgnoredTopLevelReason(string key) => key switch
    {
        "credential_list" => "named credentials are not supported; give api_key per model",
        "guardrails" or "callbacks" => "not used by this proxy",
        _ => "not a LiteLLM key this proxy uses",
    };
}
