using CopilotProxy.Configuration;

namespace CopilotProxy.Tests.Configuration;

public class GatewayConfigLoaderTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Configuration", "Fixtures", name);

    private static GatewayConfigLoadResult ParseFixture(string name, Func<string, string?>? environment = null) =>
        GatewayConfigLoader.Parse(File.ReadAllText(FixturePath(name)), "config.yaml", environment ?? NoEnvironment);

    private static GatewayConfig LoadValid(string name, Func<string, string?>? environment = null)
    {
        var result = ParseFixture(name, environment);
        Assert.True(result.Succeeded, string.Join(System.Environment.NewLine, result.Errors));
        return result.Config!;
    }

    private static Func<string, string?> Variables(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return name => map.GetValueOrDefault(name);
    }

    private static GatewayConfigLoadResult ParseText(string yaml, Func<string, string?>? environment = null) =>
        GatewayConfigLoader.Parse(yaml, "config.yaml", environment ?? NoEnvironment);

    [Fact]
    public void OriginalProjectFile_LoadsFiveOpenAIModelsWithMasterKeyAndNothingIgnored()
    {
        var config = LoadValid("original-project.yaml");

        Assert.Equal(5, config.Models.Count);
        Assert.All(config.Models, m =>
        {
            Assert.Equal(UpstreamProvider.OpenAI, m.Provider);
            Assert.Equal(m.ModelName, m.UpstreamModel);
            Assert.Equal(new Uri("http://localhost:1234/"), m.ApiBase);
            Assert.Equal("/v1", m.OpenAIRoutePrefix);
            Assert.Equal("dummy", m.ApiKey);
            Assert.False(m.IsWildcard);
            Assert.Null(m.InfoOverride);
        });
        Assert.Equal(
            ["qwen2.5-coder-32b-instruct", "deepseek-r1-distill-qwen-32b", "llama-3.3-70b-instruct", "mistral-small-24b-instruct-2501", "phi-4"],
            config.Models.Select(m => m.ModelName));
        Assert.Equal([3, 8, 13, 18, 23], config.Models.Select(m => m.Line));
        Assert.Equal("dummy", config.MasterKey);
        Assert.Empty(config.Ignored);
        Assert.Equal(RouterSettings.DefaultNumRetries, config.Router.NumRetries);
        Assert.Equal(TimeSpan.FromSeconds(6000), config.Router.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(5), config.Router.CooldownTime);
        Assert.False(config.LiteLlm.DropParams);
    }

    [Fact]
    public void EveryAcceptedKey_LandsInTheTypedModel()
    {
        var config = LoadValid("every-key.yaml");

        var coder = config.Models[0];
        Assert.Equal("coder", coder.ModelName);
        Assert.Equal(UpstreamProvider.LmStudio, coder.Provider);
        Assert.Equal("qwen/qwen3-coder-30b", coder.UpstreamModel);
        Assert.Equal(new Uri("http://127.0.0.1:1234/"), coder.ApiBase);
        Assert.Equal("/v1", coder.OpenAIRoutePrefix);
        Assert.Equal("lm-key", coder.ApiKey);
        Assert.Equal(0.2, coder.Defaults.Temperature);
        Assert.Equal(4096, coder.Defaults.MaxTokens);
        Assert.Equal(0.9, coder.Defaults.TopP);
        Assert.Equal(0.5, coder.Defaults.PresencePenalty);
        Assert.Equal(-0.5, coder.Defaults.FrequencyPenalty);
        Assert.Equal(42, coder.Defaults.Seed);
        Assert.Equal(["<|end|>", "</s>"], coder.Defaults.Stop!);
        Assert.Equal("low", coder.Defaults.ReasoningEffort);
        Assert.Equal(TimeSpan.FromSeconds(600), coder.Defaults.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(120.5), coder.Defaults.StreamTimeout);
        Assert.Equal("tools", coder.Defaults.ExtraHeaders["x-team"]);
        Assert.Equal("on", coder.Defaults.ExtraHeaders["X-Trace"]);
        Assert.Equal("coder-primary", coder.DeploymentId);
        Assert.Equal(
            new ModelInfoOverride
            {
                ContextLength = 131072, // max_input_tokens wins over the ambiguous max_tokens
                MaxOutputTokens = 16384,
                SupportsTools = true,
                SupportsVision = false,
                SupportsReasoning = true,
                Mode = ModelMode.Chat,
            },
            coder.InfoOverride);

        var ollamaChat = config.Models[1];
        Assert.Equal(("coder", UpstreamProvider.OllamaChat, "qwen3-coder:30b"), (ollamaChat.ModelName, ollamaChat.Provider, ollamaChat.UpstreamModel));
        Assert.Equal(new Uri("http://127.0.0.1:11435/"), ollamaChat.ApiBase);
        Assert.Equal(ModelDefaults.None.ExtraHeaders, ollamaChat.Defaults.ExtraHeaders);

        var vllm = config.Models[2];
        Assert.Equal((UpstreamProvider.HostedVllm, "meta-llama/Llama-3.1-8B-Instruct"), (vllm.Provider, vllm.UpstreamModel));
        Assert.Equal(new Uri("http://127.0.0.1:8000/"), vllm.ApiBase);
        Assert.Equal(32768, vllm.InfoOverride!.ContextLength);

        Assert.Equal((UpstreamProvider.Ollama, "llama3.2"), (config.Models[3].Provider, config.Models[3].UpstreamModel));

        // A base that is already an OpenAI root other than /v1 is kept whole, as LiteLLM would use it.
        var embedder = config.Models[4];
        Assert.Equal((UpstreamProvider.Bare, "text-embedding-nomic-embed-text-v1.5"), (embedder.Provider, embedder.UpstreamModel));
        Assert.Equal(new Uri("http://127.0.0.1:8080/openai"), embedder.ApiBase);
        Assert.Equal("", embedder.OpenAIRoutePrefix);
        Assert.Equal(new ModelInfoOverride { Mode = ModelMode.Embedding, ContextLength = 2048 }, embedder.InfoOverride);

        Assert.Equal("sk-local-1234", config.MasterKey);
        // The key database (docs/team.md); DATABASE_URL wins over it.
        Assert.Equal("postgresql://unused", config.DatabaseUrl);

        // router_settings win over litellm_settings for the keys both accept.
        Assert.Equal(4, config.Router.NumRetries);
        Assert.Equal(TimeSpan.FromSeconds(300), config.Router.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(30), config.Router.CooldownTime);
        Assert.Equal(1, config.Router.AllowedFails);
        var fallback = Assert.Single(config.Router.Fallbacks);
        Assert.Equal("coder", fallback.From);
        Assert.Equal(["vllm-model", "ollama-plain"], fallback.To);

        Assert.True(config.LiteLlm.DropParams);
        Assert.Equal(TimeSpan.FromSeconds(900), config.LiteLlm.RequestTimeout);

        Assert.Equal("http://127.0.0.1:1234", config.EnvironmentVariables["LMSTUDIO_URL"]);
        Assert.Equal("debug", config.EnvironmentVariables["LOG_LEVEL"]);
        Assert.Equal("15", config.EnvironmentVariables["HEALTH_CHECK_INTERVAL"]);

        Assert.Equal(
            [
                "line 20: model_list[0].litellm_params.rpm: rate limits are not enforced: a local upstream queues requests itself",
                "line 21: model_list[0].litellm_params.tpm: rate limits are not enforced: a local upstream queues requests itself",
                "line 22: model_list[0].litellm_params.organization: OpenAI cloud organisations do not apply to local upstreams",
                "line 68: litellm_settings.request_timeout: router_settings.timeout is also set and wins",
                "line 69: litellm_settings.num_retries: router_settings.num_retries is also set and wins",
                "line 70: litellm_settings.fallbacks: router_settings.fallbacks is also set and wins",
                "line 71: litellm_settings.set_verbose: logging is set with LOG_LEVEL and DEV_MODE",
                "line 72: litellm_settings.json_logs: logging is set with LOG_LEVEL and DEV_MODE",
            ],
            config.Ignored.Select(w => w.ToString()));
    }

    [Fact]
    public void LiteLlmSettingsAlone_SetRetriesFallbacksAndTimeout()
    {
        var config = ParseText("""
            litellm_settings:
              num_retries: 0
              request_timeout: 45
              fallbacks: [{"a": "b"}]
            """).Config!;

        Assert.Equal(0, config.Router.NumRetries);
        Assert.Equal(TimeSpan.FromSeconds(45), config.Router.Timeout);
        Assert.Equal(["b"], Assert.Single(config.Router.Fallbacks).To);
        Assert.Empty(config.Ignored);
    }

    [Fact]
    public void OsEnviron_ResolvesFromProcessEnvironmentThenFromEnvironmentVariablesSection()
    {
        var config = LoadValid("environment.yaml", Variables(
            ("REMOTE_BASE", "http://127.0.0.1:9999/v1"), ("REMOTE_KEY", "sk-secret"), ("PROXY_MASTER_KEY", "master")));

        var model = Assert.Single(config.Models);
        Assert.Equal(new Uri("http://127.0.0.1:9999/"), model.ApiBase);
        Assert.Equal("sk-secret", model.ApiKey);
        Assert.Equal(0.4, model.Defaults.Temperature);
        Assert.Equal("master", config.MasterKey);
    }

    [Fact]
    public void OsEnviron_ProcessEnvironmentWinsOverEnvironmentVariablesSection()
    {
        var config = LoadValid("environment.yaml", Variables(
            ("REMOTE_BASE", "http://127.0.0.1:9999"), ("REMOTE_KEY", "k"), ("PROXY_MASTER_KEY", "m"), ("REMOTE_TEMPERATURE", "1.5")));

        Assert.Equal(1.5, config.Models[0].Defaults.Temperature);
    }

    [Fact]
    public void OsEnviron_MissingVariables_EachNamedWithKeyAndLine()
    {
        var result = ParseFixture("environment.yaml", Variables(("REMOTE_BASE", "http://127.0.0.1:9999/v1")));

        Assert.Null(result.Config);
        Assert.All(result.Errors, e => Assert.Equal(ConfigErrorKind.MissingEnvironmentVariable, e.Kind));
        Assert.Equal(
            [
                "config.yaml:6: model_list[0].litellm_params.api_key: environment variable REMOTE_KEY is not set (referenced as \"os.environ/REMOTE_KEY\")",
                "config.yaml:10: general_settings.master_key: environment variable PROXY_MASTER_KEY is not set (referenced as \"os.environ/PROXY_MASTER_KEY\")",
            ],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void OsEnviron_ResolvedValueThatIsInvalid_NamesTheVariableInTheError()
    {
        var result = ParseFixture("environment.yaml", Variables(
            ("REMOTE_BASE", "http://127.0.0.1:9999"), ("REMOTE_KEY", "k"), ("PROXY_MASTER_KEY", "m"), ("REMOTE_TEMPERATURE", "warm")));

        var error = Assert.Single(result.Errors);
        Assert.Equal(
            "config.yaml:7: model_list[0].litellm_params.temperature: expected a number between 0 and 2, got \"warm\" (from os.environ/REMOTE_TEMPERATURE)",
            error.ToString());
    }

    [Fact]
    public void BadYaml_ReportsSyntaxErrorWithLine()
    {
        var result = ParseFixture("bad-yaml.yaml");

        var error = Assert.Single(result.Errors);
        Assert.Equal(ConfigErrorKind.Syntax, error.Kind);
        Assert.Equal(5, error.Line);
        Assert.StartsWith("config.yaml:5: not valid YAML: ", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateKeyInOneMapping_IsASyntaxErrorAtThatLine()
    {
        var result = ParseText("""
            model_list:
              - model_name: a
                model_name: b
                litellm_params: {model: openai/x}
            """);

        var error = Assert.Single(result.Errors);
        Assert.Equal((ConfigErrorKind.Syntax, 3), (error.Kind, error.Line));
    }

    [Fact]
    public void BadValues_AllReportedWithFileLineKeyExpectedAndFound()
    {
        var result = ParseFixture("bad-values.yaml");

        Assert.Null(result.Config);
        Assert.Equal(
            [
                "config.yaml:5: model_list[0].litellm_params.temperature: expected a number between 0 and 2, got \"hot\"",
                "config.yaml:6: model_list[0].litellm_params.max_tokens: expected a whole number greater than 0, got -5",
                "config.yaml:7: model_list[0].litellm_params.top_p: expected a number between 0 and 1, got 1.5",
                "config.yaml:8: model_list[0].litellm_params.timeout: expected a number of seconds greater than 0 and at most 86400, got -1",
                "config.yaml:9: model_list[0].litellm_params.extra_headers: expected a mapping of keys to values, got a list",
                "config.yaml:10: model_list[1].model_name: expected a non-empty model name, got \"\"",
                "config.yaml:15: model_list[2].litellm_params.model: provider \"bedrock\" is not supported: it needs a cloud SDK or a non-OpenAI protocol, "
                    + "and this proxy only relays to OpenAI-compatible upstreams; use one of openai/<id>, lm_studio/<id>, ollama/<id>, ollama_chat/<id>, hosted_vllm/<id> or a bare id",
                "config.yaml:16: model_list[3].litellm_params: is required, with at least \"model: <provider>/<id>\"",
                "config.yaml:20: model_list[4].litellm_params.api_base: expected an http:// or https:// URL such as \"http://localhost:1234/v1\", got \"localhost:1234\"",
                "config.yaml:22: model_list[4].model_info.supports_vision: expected true or false, got \"maybe\"",
                "config.yaml:23: model_list[4].model_info.mode: expected one of chat, completion, embedding, got \"image_generation\"",
                "config.yaml:26: router_settings.num_retries: expected a whole number between 0 and 100, got -1",
                "config.yaml:27: router_settings.fallbacks: expected a list of {\"group\": [\"fallback-group\", …]}, got a mapping",
                "config.yaml:28: router_settings.cooldown_time: expected a number of seconds 0 or more and at most 86400, got \"soon\"",
                "config.yaml:31: litellm_settings.drop_params: expected true or false, got \"sometimes\"",
            ],
            result.Errors.Select(e => e.ToString()));
        Assert.Equal(ConfigErrorKind.Unsupported, result.Errors[6].Kind);
    }

    [Theory]
    [InlineData("model_name: null", "config.yaml:2: model_list[0].model_name: expected a non-empty model name, got nothing")]
    [InlineData("model_name: \"a*b\"", "config.yaml:2: model_list[0].model_name: expected \"*\" only at the end (\"*\" or \"prefix/*\"), got \"a*b\"")]
    [InlineData("model_name: [a, b]", "config.yaml:2: model_list[0].model_name: expected a single value, got a list")]
    public void InvalidModelName_IsReported(string modelNameLine, string expected)
    {
        var result = ParseText($"""
            model_list:
              - {modelNameLine}
                litellm_params: {"{"}model: openai/x{"}"}
            """);

        Assert.Equal(expected, Assert.Single(result.Errors).ToString());
    }

    [Fact]
    public void OllamaWithoutApiBase_IsRefusedBecauseItsDefaultIsOurOwnPort()
    {
        var result = ParseText("""
            model_list:
              - model_name: llama
                litellm_params:
                  model: ollama/llama3.2
            """);

        Assert.Equal(
            "config.yaml:4: model_list[0].litellm_params.api_base: is required for ollama/ models: LiteLLM's default http://localhost:11434 is this proxy's own Ollama port",
            Assert.Single(result.Errors).ToString());
    }

    [Fact]
    public void SlashInUnknownPrefix_IsKeptAsBareLmStudioId()
    {
        var config = ParseText("""
            model_list:
              - model_name: coder
                litellm_params: {model: qwen/qwen3-coder-30b}
            """).Config!;

        Assert.Equal((UpstreamProvider.Bare, "qwen/qwen3-coder-30b", null), (config.Models[0].Provider, config.Models[0].UpstreamModel, config.Models[0].ApiBase));
    }

    [Fact]
    public void Wildcard_ExposesEveryDiscoveredModel()
    {
        var config = LoadValid("wildcard-and-groups.yaml");

        var wildcard = config.Models[0];
        Assert.True(wildcard.IsWildcard);
        Assert.Equal(("*", "*", UpstreamProvider.LmStudio, null), (wildcard.ModelName, wildcard.UpstreamModel, wildcard.Provider, wildcard.ApiBase));
        Assert.True(config.HasWildcard);
        Assert.False(config.Models[1].IsWildcard);
    }

    [Fact]
    public void WildcardModelUnderPlainName_IsRejected()
    {
        var result = ParseText("""
            model_list:
              - model_name: everything
                litellm_params: {model: lm_studio/*}
            """);

        Assert.Equal(
            "config.yaml:2: model_list[0].model_name: expected a wildcard model_name such as \"*\" for a wildcard model, got \"everything\"",
            Assert.Single(result.Errors).ToString());
    }

    [Fact]
    public void DuplicateModelNames_FormOneGroupKeepingEveryEntryInOrder()
    {
        var config = LoadValid("wildcard-and-groups.yaml");

        var group = config.FindGroup("team-coder");
        Assert.Equal(2, group.Count);
        Assert.Equal([new Uri("http://127.0.0.1:1234/"), new Uri("http://127.0.0.1:1235/")], group.Select(m => m.ApiBase));
        Assert.Single(config.FindGroup("small"));
        Assert.Empty(config.FindGroup("Team-Coder"));
    }

    [Fact]
    public void UnknownKeys_AreIgnoredWithLineAndReasonNotErrors()
    {
        var config = LoadValid("unknown-keys.yaml");

        Assert.Equal("qwen3-8b", Assert.Single(config.Models).UpstreamModel);
        Assert.Equal(
            [
                (6, "model_list[0].litellm_params.input_cost_per_token"),
                (7, "model_list[0].litellm_params.shiny_new_param"),
                (9, "model_list[0].model_info.base_model"),
                (10, "model_list[0].tpm_limit"),
                (14, "general_settings.alerting"),
                (17, "router_settings.routing_strategy"),
                (18, "router_settings.redis_host"),
                (21, "litellm_settings.success_callback"),
                (23, "guardrails"),
                (24, "future_section"),
            ],
            config.Ignored.Select(w => (w.Line, w.KeyPath)));
        Assert.Contains("treated as simple-shuffle", config.Ignored[5].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownRoutingStrategy_IsAnError()
    {
        var result = ParseText("router_settings: {routing_strategy: fastest}");

        Assert.StartsWith("config.yaml:1: router_settings.routing_strategy: expected one of simple-shuffle, ", Assert.Single(result.Errors).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Include_IsRefused()
    {
        var result = ParseText("include: [models.yaml]");

        var error = Assert.Single(result.Errors);
        Assert.Equal(ConfigErrorKind.Unsupported, error.Kind);
        Assert.Equal("config.yaml:1: include: including other files is not supported; put everything in this one file", error.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("model_list:\n")]
    public void EmptyFile_IsAValidEmptyConfiguration(string yaml)
    {
        var result = ParseText(yaml);

        Assert.True(result.Succeeded);
        Assert.Empty(result.Config!.Models);
        Assert.Null(result.Config.MasterKey);
    }

    [Fact]
    public void TopLevelList_IsAnError()
    {
        var result = ParseText("- model_name: x\n");

        Assert.StartsWith("config.yaml:1: expected a mapping with model_list", Assert.Single(result.Errors).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void MergeKeys_ApplySharedParametersAsPyYamlDoes()
    {
        var config = ParseText("""
            x-local: &local
              api_base: http://127.0.0.1:1234/v1
              api_key: dummy
            model_list:
              - model_name: a
                litellm_params:
                  <<: *local
                  model: openai/a
            """).Config!;

        Assert.Equal((new Uri("http://127.0.0.1:1234/"), "dummy"), (config.Models[0].ApiBase, config.Models[0].ApiKey));
    }

    [Fact]
    public void MissingFileAtDefaultPath_IsAnEmptyConfigurationMarkedAbsent()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gw-{Guid.NewGuid():N}", "config.yaml");

        var result = GatewayConfigLoader.Load(new ConfigFileLocation(path, IsExplicit: false), NoEnvironment);

        Assert.True(result.Succeeded);
        Assert.False(result.Config!.IsFilePresent);
        Assert.Empty(result.Config.Models);
        Assert.Equal(path, result.Config.SourcePath);
    }

    [Fact]
    public void MissingFileAtExplicitPath_IsAFileNotFoundError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gw-{Guid.NewGuid():N}", "config.yaml");

        var result = GatewayConfigLoader.Load(new ConfigFileLocation(path, IsExplicit: true), NoEnvironment);

        var error = Assert.Single(result.Errors);
        Assert.Equal(ConfigErrorKind.FileNotFound, error.Kind);
        Assert.StartsWith($"{path}: the file given in CONFIG_FILE does not exist", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ExistingFile_IsLoadedWithItsPathInErrorsAndModel()
    {
        var path = FixturePath("original-project.yaml");

        var result = GatewayConfigLoader.Load(new ConfigFileLocation(path, IsExplicit: true), NoEnvironment);

        Assert.True(result.Config!.IsFilePresent);
        Assert.Equal(path, result.Config.SourcePath);
        Assert.StartsWith($"{FixturePath("bad-yaml.yaml")}:5: ",
            GatewayConfigLoader.Load(new ConfigFileLocation(FixturePath("bad-yaml.yaml"), true), NoEnvironment).Errors[0].ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, "config.yaml", false)]
    [InlineData(null, "true", "/app/config/config.yaml", false)]
    [InlineData("/etc/proxy.yaml", "true", "/etc/proxy.yaml", true)]
    public void ResolveLocation_UsesConfigFileElseTheDefaultForTheHost(string? configFile, string? inContainer, string expectedPath, bool expectedExplicit)
    {
        var location = GatewayConfigLoader.ResolveLocation(name => name switch
        {
            "CONFIG_FILE" => configFile,
            "DOTNET_RUNNING_IN_CONTAINER" => inContainer,
            _ => null,
        });

        Assert.Equal(new ConfigFileLocation(expectedPath, expectedExplicit), location);
    }

    [Fact]
    public void ShippedExampleConfig_LoadsWithoutErrors()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "CopilotProxy.slnx")))
        {
            directory = directory.Parent;
        }

        Assert.NotNull(directory);
        var result = GatewayConfigLoader.Load(new ConfigFileLocation(Path.Combine(directory.FullName, "config", "config.example.yaml"), true), NoEnvironment);

        Assert.True(result.Succeeded, string.Join(System.Environment.NewLine, result.Errors));
        Assert.NotEmpty(result.Config!.Models);
        Assert.Empty(result.Config.Ignored);
    }
}
