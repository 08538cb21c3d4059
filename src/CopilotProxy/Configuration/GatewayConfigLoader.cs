using System.Collections.ObjectModel;
using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CopilotProxy.Configuration;

/// <summary>
/// Reads a LiteLLM-format <c>config.yaml</c> into a <see cref="GatewayConfig"/>, collecting every error with its line.
/// </summary>
/// <remarks>
/// NOTE: only YamlDotNet's representation model is used (nodes with line marks), walked by hand, because the
/// reflection-based deserializer is neither AOT-clean nor able to say which line a bad value came from.
/// </remarks>
public static class GatewayConfigLoader
{
    /// <summary>The <c>CONFIG_FILE</c> environment variable.</summary>
    public const string ConfigFileVariable = "CONFIG_FILE";

    /// <summary>Where the file is looked for: <c>CONFIG_FILE</c> if set (explicit), else <c>/app/config.yaml</c> in a container or <c>./config.yaml</c>.</summary>
    private const string ContainerFile = "/app/config.yaml";
    private const string ContainerFolderFile = "/app/config/config.yaml";

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
            return new ConfigFileLocation("config.yaml", IsExplicit: false);
        }

        return new ConfigFileLocation(File.Exists(ContainerFile) ? ContainerFile : ContainerFolderFile, IsExplicit: false);
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

        var walker = new Walker(sourceName, environment);
        var config = walker.ReadDocument(stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode);
        return walker.Errors.Count > 0
            ? new GatewayConfigLoadResult { Errors = walker.Errors }
            : new GatewayConfigLoadResult { Config = config };
    }

    private static GatewayConfigLoadResult Failed(ConfigError error) => new() { Errors = [error] };

    private static int LineOf(Mark mark) => (int)Math.Min(mark.Line, int.MaxValue);

    // YamlException messages start with "(Line: 3, Col: 5, Idx: 20) - (Line: …): "; the line is already in our prefix.
    private static string StripMarkPrefix(string message)
    {
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0 ? message[(marker + 3)..] : message;
    }

    /// <summary>Walks the node tree once, building the model and collecting errors and ignored keys.</summary>
    private sealed class Walker(string source, Func<string, string?> processEnvironment)
    {
        private const string EnvironmentPrefix = "os.environ/";
        private const double MaxSeconds = 86_400;

        private static readonly string[] SupportedProviders =
        [
            UpstreamProvider.OpenAI, UpstreamProvider.LmStudio, UpstreamProvider.Ollama,
            UpstreamProvider.OllamaChat, UpstreamProvider.HostedVllm,
        ];

        // LiteLLM providers that need a cloud account, a vendor SDK or a non-OpenAI protocol. Anything else with a
        // slash is kept whole as a bare id, because LM Studio ids look like "qwen/qwen3-coder-30b".
        private static readonly HashSet<string> RefusedProviders = new(StringComparer.Ordinal)
        {
            "azure", "azure_ai", "azure_text", "bedrock", "bedrock_converse", "sagemaker", "sagemaker_chat",
            "vertex_ai", "vertex_ai_beta", "gemini", "palm", "anthropic", "anthropic_text", "cohere", "cohere_chat",
            "replicate", "huggingface", "together_ai", "openrouter", "groq", "mistral", "codestral", "deepseek",
            "fireworks_ai", "perplexity", "anyscale", "ai21", "ai21_chat", "nlp_cloud", "aleph_alpha", "cloudflare",
            "databricks", "watsonx", "watsonx_text", "predibase", "clarifai", "voyage", "xai", "cerebras", "sambanova",
            "nvidia_nim", "deepinfra", "friendliai", "github", "github_copilot", "dashscope", "moonshot", "volcengine",
            "novita", "nebius", "baseten", "petals", "triton", "oobabooga", "vllm", "text-completion-openai",
            "text-completion-codestral", "azure_openai", "custom", "custom_openai", "snowflake", "jina_ai", "infinity",
            "openai_like", "llamafile", "litellm_proxy", "gradient_ai", "nscale", "featherless_ai", "lambda_ai",
        };

        private static readonly string[] RoutingStrategies =
        [
            "simple-shuffle", "least-busy", "usage-based-routing", "usage-based-routing-v2",
            "latency-based-routing", "cost-based-routing",
        ];

        // litellm_settings key → the router_settings key that overrides it.
        private static readonly (string LiteLlmKey, string RouterKey)[] SharedRouterKeys =
        [
            ("num_retries", "num_retries"), ("fallbacks", "fallbacks"), ("allowed_fails", "allowed_fails"), ("request_timeout", "timeout"),
        ];

        private readonly List<ConfigWarning> _ignored = [];
        private Dictionary<string, string> _configEnvironment = new(StringComparer.Ordinal);

        public List<ConfigError> Errors { get; } = [];

        public GatewayConfig ReadDocument(YamlNode? root)
        {
            // An empty file is a valid, empty configuration (PyYAML loads it as None).
            if (root is null || IsNull(root))
            {
                return new GatewayConfig { IsFilePresent = true };
            }

            if (root is not YamlMappingNode top)
            {
                Error(root, "", $"expected a mapping with model_list, general_settings, … at the top level, got {Describe(root)}");
                return GatewayConfig.Empty;
            }

            // environment_variables first: os.environ/ references anywhere in the file may name them (LiteLLM sets them
            // into os.environ before it reads model_list).
            if (Find(top, "environment_variables") is { } envNode)
            {
                _configEnvironment = ReadEnvironmentVariables(envNode);
            }

            IReadOnlyList<ModelEntry> models = [];
            string? masterKey = null;
            var router = new RouterPart();
            var litellm = new RouterPart();
            var dropParams = false;

            foreach (var (keyNode, value) in top.Children)
            {
                if (KeyOf(keyNode, "") is not { } key)
                {
                    continue;
                }

                switch (key)
                {
                    case "model_list":
                        models = ReadModelList(value);
                        break;
                    case "general_settings":
                        masterKey = ReadGeneralSettings(value);
                        break;
                    case "router_settings":
                        router = ReadRouterSettings(value);
                        break;
                    case "litellm_settings":
                        (litellm, dropParams) = ReadLiteLlmSettings(value);
                        break;
                    case "environment_variables":
                        break;
                    case "include":
                        Error(keyNode, key, "including other files is not supported; put everything in this one file",
                            ConfigErrorKind.Unsupported);
                        break;
                    default:
                        Ignore(keyNode, key, IgnoredTopLevelReason(key));
                        break;
                }
            }

            // router_settings win over litellm_settings, as LiteLLM passes them to Router() explicitly.
            foreach (var (key, routerKey) in SharedRouterKeys)
            {
                if (litellm.Lines.TryGetValue(key, out var line) && router.Lines.ContainsKey(routerKey))
                {
                    _ignored.Add(new ConfigWarning($"litellm_settings.{key}", line, $"router_settings.{routerKey} is also set and wins"));
                }
            }

            var timeout = router.Timeout ?? litellm.Timeout ?? RouterSettings.DefaultTimeout;
            return new GatewayConfig
            {
                Models = models,
                MasterKey = masterKey,
                Router = new RouterSettings
                {
                    NumRetries = router.NumRetries ?? litellm.NumRetries ?? RouterSettings.DefaultNumRetries,
                    Timeout = timeout,
                    Fallbacks = router.Fallbacks ?? litellm.Fallbacks ?? [],
                    CooldownTime = router.CooldownTime ?? litellm.CooldownTime ?? RouterSettings.DefaultCooldownTime,
                    AllowedFails = router.AllowedFails ?? litellm.AllowedFails ?? RouterSettings.DefaultAllowedFails,
                },
                LiteLlm = new LiteLlmSettings { DropParams = dropParams, RequestTimeout = litellm.Timeout },
                EnvironmentVariables = _configEnvironment.AsReadOnly(),
                Ignored = _ignored.OrderBy(w => w.Line).ToArray(),
                IsFilePresent = true,
            };
        }

        private static string IgnoredTopLevelReason(string key) => key switch
        {
            "credential_list" => "named credentials are not supported; give api_key per model",
            "guardrails" or "callbacks" => "not used by this proxy",
            _ => "not a LiteLLM key this proxy uses",
        };

        private Dictionary<string, string> ReadEnvironmentVariables(YamlNode node)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            if (ExpectMapping(node, "environment_variables") is not { } map)
            {
                return result;
            }

            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, "environment_variables") is not { } name)
                {
                    continue;
                }

                var path = $"environment_variables.{name}";
                // Only the process environment here: one entry referring to another would depend on file order.
                if (ReadScalar(value, path, processOnly: true) is { } text)
                {
                    result[name] = text.Value;
                }
                else if (IsNull(value))
                {
                    Error(value, path, "expected a text value, got nothing");
                }
            }

            return result;
        }

        private ModelEntry[] ReadModelList(YamlNode node)
        {
            if (IsNull(node))
            {
                return [];
            }

            if (node is not YamlSequenceNode list)
            {
                Error(node, "model_list", $"expected a list of models (lines starting with \"- model_name:\"), got {Describe(node)}");
                return [];
            }

            var entries = new List<ModelEntry>(list.Children.Count);
            for (var i = 0; i < list.Children.Count; i++)
            {
                if (ReadModelEntry(list.Children[i], $"model_list[{i}]") is { } entry)
                {
                    entries.Add(entry);
                }
            }

            return entries.ToArray();
        }

        private ModelEntry? ReadModelEntry(YamlNode node, string path)
        {
            if (ExpectMapping(node, path) is not { } map)
            {
                return null;
            }

            string? modelName = null;
            YamlMappingNode? parameters = null;
            YamlMappingNode? info = null;
            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, path) is not { } key)
                {
                    continue;
                }

                switch (key)
                {
                    case "model_name":
                        modelName = ReadModelName(value, $"{path}.model_name");
                        break;
                    case "litellm_params":
                        parameters = ExpectMapping(value, $"{path}.litellm_params");
                        break;
                    case "model_info":
                        info = IsNull(value) ? null : ExpectMapping(value, $"{path}.model_info");
                        break;
                    default:
                        Ignore(keyNode, $"{path}.{key}", "not a model_list key this proxy uses");
                        break;
                }
            }

            if (Find(map, "model_name") is null)
            {
                Error(map, $"{path}.model_name", "is required: the public name clients ask for");
            }

            if (Find(map, "litellm_params") is null)
            {
                Error(map, $"{path}.litellm_params", "is required, with at least \"model: <provider>/<id>\"");
            }

            var entry = parameters is null ? null : ReadLiteLlmParams(parameters, $"{path}.litellm_params");
            var (infoOverride, deploymentId) = info is null ? (null, null) : ReadModelInfo(info, $"{path}.model_info");
            if (modelName is null || entry is null)
            {
                return null;
            }

            var isWildcard = modelName.EndsWith('*');
            if (entry.UpstreamModel == "*" && !isWildcard)
            {
                Error(map, $"{path}.model_name", $"expected a wildcard model_name such as \"*\" for a wildcard model, got \"{modelName}\"");
                return null;
            }

            return entry with
            {
                ModelName = modelName,
                IsWildcard = isWildcard,
                InfoOverride = infoOverride,
                DeploymentId = deploymentId,
                Line = LineOf(map.Start),
            };
        }

        private string? ReadModelName(YamlNode node, string path)
        {
            if (ReadScalar(node, path) is not { } name)
            {
                if (IsNull(node))
                {
                    Error(node, path, "expected a non-empty model name, got nothing");
                }

                return null;
            }

            if (name.Value.Trim().Length == 0)
            {
                Error(node, path, $"expected a non-empty model name, got {name}");
                return null;
            }

            // '*' only works as a trailing wildcard ("*" or "prefix/*"), as in LiteLLM's pattern routing.
            if (name.Value.IndexOf('*', StringComparison.Ordinal) is var star and >= 0 && star != name.Value.Length - 1)
            {
                Error(node, path, $"expected \"*\" only at the end (\"*\" or \"prefix/*\"), got {name}");
                return null;
            }

            return name.Value;
        }

        private ModelEntry? ReadLiteLlmParams(YamlMappingNode map, string path)
        {
            (string Provider, string Id)? model = null;
            (Uri Base, string Prefix)? apiBase = null;
            string? apiKey = null;
            var defaults = new ModelDefaults();
            var ok = true;

            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, path) is not { } key)
                {
                    continue;
                }

                var keyPath = $"{path}.{key}";
                switch (key)
                {
                    case "model":
                        model = ReadModel(value, keyPath);
                        ok &= model is not null;
                        break;
                    case "api_base":
                    case "base_url":
                        if (key == "base_url" && Find(map, "api_base") is not null)
                        {
                            Ignore(keyNode, keyPath, "api_base is also set and wins");
                            break;
                        }

                        apiBase = ReadApiBase(value, keyPath);
                        break;
                    case "api_key":
                        apiKey = ReadScalar(value, keyPath)?.Value;
                        break;
                    case "temperature":
                        defaults = defaults with { Temperature = ReadNumber(value, keyPath, 0, 2) };
                        break;
                    case "top_p":
                        defaults = defaults with { TopP = ReadNumber(value, keyPath, 0, 1) };
                        break;
                    case "presence_penalty":
                        defaults = defaults with { PresencePenalty = ReadNumber(value, keyPath, -2, 2) };
                        break;
                    case "frequency_penalty":
                        defaults = defaults with { FrequencyPenalty = ReadNumber(value, keyPath, -2, 2) };
                        break;
                    case "max_tokens":
                        defaults = defaults with { MaxTokens = ReadInteger(value, keyPath, 1, int.MaxValue) };
                        break;
                    case "seed":
                        defaults = defaults with { Seed = ReadLong(value, keyPath) };
                        break;
                    case "stop":
                        defaults = defaults with { Stop = ReadStringOrList(value, keyPath) };
                        break;
                    case "reasoning_effort":
                        defaults = defaults with { ReasoningEffort = ReadScalar(value, keyPath)?.Value };
                        break;
                    case "timeout":
                        defaults = defaults with { Timeout = ReadSeconds(value, keyPath, allowZero: false) };
                        break;
                    case "stream_timeout":
                        defaults = defaults with { StreamTimeout = ReadSeconds(value, keyPath, allowZero: false) };
                        break;
                    case "extra_headers":
                        defaults = defaults with { ExtraHeaders = ReadHeaders(value, keyPath) };
                        break;
                    case "rpm":
                    case "tpm":
                        Ignore(keyNode, keyPath, "rate limits are not enforced: a local upstream queues requests itself");
                        break;
                    case "organization":
                        Ignore(keyNode, keyPath, "OpenAI cloud organisations do not apply to local upstreams");
                        break;
                    case "api_version":
                        Ignore(keyNode, keyPath, "Azure only");
                        break;
                    case "max_retries":
                        Ignore(keyNode, keyPath, "retries are set once in router_settings.num_retries");
                        break;
                    case "weight":
                    case "order":
                        Ignore(keyNode, keyPath, "groups are balanced round-robin, without weights or order");
                        break;
                    case "input_cost_per_token":
                    case "output_cost_per_token":
                        Ignore(keyNode, keyPath, "costs are not tracked");
                        break;
                    default:
                        Ignore(keyNode, keyPath, "not a litellm_params key this proxy uses");
                        break;
                }
            }

            if (Find(map, "model") is null)
            {
                Error(map, $"{path}.model", "is required, e.g. \"openai/<id>\", \"lm_studio/<id>\" or a bare model id");
                return null;
            }

            if (!ok || model is not { } m)
            {
                return null;
            }

            // LiteLLM's own default for ollama is http://localhost:11434, which is this proxy's Ollama front door: a loop.
            if (apiBase is null && m.Provider is UpstreamProvider.Ollama or UpstreamProvider.OllamaChat)
            {
                Error(map, $"{path}.api_base", $"is required for {m.Provider}/ models: LiteLLM's default http://localhost:11434 is this proxy's own Ollama port");
                return null;
            }

            return new ModelEntry
            {
                ModelName = "",
                UpstreamModel = m.Id,
                Provider = m.Provider,
                ApiBase = apiBase?.Base,
                OpenAIRoutePrefix = apiBase?.Prefix ?? "/v1",
                ApiKey = apiKey,
                Defaults = defaults,
            };
        }

        private (string Provider, string Id)? ReadModel(YamlNode node, string path)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                if (IsNull(node))
                {
                    Error(node, path, "expected a model such as \"openai/<id>\", got nothing");
                }

                return null;
            }

            var value = text.Value.Trim();
            var slash = value.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                return value.Length == 0 ? Invalid("a model such as \"openai/<id>\"") : (UpstreamProvider.Bare, value);
            }

            var prefix = value[..slash];
            var id = value[(slash + 1)..];
            if (SupportedProviders.Contains(prefix))
            {
                return id.Length == 0 ? Invalid($"a model id after \"{prefix}/\"") : (prefix, id);
            }

            if (RefusedProviders.Contains(prefix))
            {
                Error(node, path,
                    $"provider \"{prefix}\" is not supported: it needs a cloud SDK or a non-OpenAI protocol, and this proxy only relays to " +
                    $"OpenAI-compatible upstreams; use one of {string.Join(", ", SupportedProviders.Select(p => p + "/<id>"))} or a bare id",
                    ConfigErrorKind.Unsupported);
                return null;
            }

            return (UpstreamProvider.Bare, value);

            (string, string)? Invalid(string expected)
            {
                Error(node, path, $"expected {expected}, got {text}");
                return null;
            }
        }

        private (Uri Base, string Prefix)? ReadApiBase(YamlNode node, string path)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                return null;
            }

            if (!Uri.TryCreate(text.Value.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                Error(node, path, $"expected an http:// or https:// URL such as \"http://localhost:1234/v1\", got {text}");
                return null;
            }

            // LiteLLM's openai provider takes the OpenAI root (".../v1"); LM Studio and Ollama users often give the server
            // root. Store the root without "/v1" and remember where OpenAI routes live. All supported local upstreams
            // (LM Studio, Ollama, llama.cpp, vLLM) serve them under /v1 of the server root.
            var path0 = uri.AbsolutePath.TrimEnd('/');
            string prefix;
            if (path0.EndsWith("/v1", StringComparison.OrdinalIgnoreCase))
            {
                path0 = path0[..^3];
                prefix = "/v1";
            }
            else
            {
                prefix = path0.Length == 0 ? "/v1" : "";
            }

            var builder = new UriBuilder(uri.Scheme, uri.Host, uri.Port, path0.Length == 0 ? "/" : path0);
            return (builder.Uri, prefix);
        }

        private (ModelInfoOverride? Override, string? Id) ReadModelInfo(YamlMappingNode map, string path)
        {
            int? maxInput = null, contextLength = null, maxTokens = null, maxOutput = null, minContext = null;
            bool? tools = null, vision = null, reasoning = null;
            ModelMode? mode = null;
            string? id = null;
            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, path) is not { } key)
                {
                    continue;
                }

                var keyPath = $"{path}.{key}";
                switch (key)
                {
                    case "max_input_tokens":
                        maxInput = ReadInteger(value, keyPath, 1, int.MaxValue);
                        break;
                    case "context_length":
                        contextLength = ReadInteger(value, keyPath, 1, int.MaxValue);
                        break;
                    case "max_tokens":
                        maxTokens = ReadInteger(value, keyPath, 1, int.MaxValue);
                        break;
                    case "max_output_tokens":
                        maxOutput = ReadInteger(value, keyPath, 1, int.MaxValue);
                        break;
                    case "min_context_length":
                        minContext = ReadInteger(value, keyPath, 0, 16 * 1024 * 1024);
                        break;
                    case "supports_function_calling":
                        tools = ReadBool(value, keyPath);
                        break;
                    case "supports_vision":
                        vision = ReadBool(value, keyPath);
                        break;
                    case "supports_reasoning":
                        reasoning = ReadBool(value, keyPath);
                        break;
                    case "mode":
                        mode = ReadMode(value, keyPath);
                        break;
                    case "id":
                        id = ReadScalar(value, keyPath)?.Value;
                        break;
                    default:
                        Ignore(keyNode, keyPath, "not a model_info key this proxy uses");
                        break;
                }
            }

            // LiteLLM's max_tokens is ambiguous (older model maps used it for the context window); it only counts when
            // the precise keys are absent.
            var context = maxInput ?? contextLength ?? maxTokens;
            var result = new ModelInfoOverride
            {
                ContextLength = context,
                MaxOutputTokens = maxOutput,
                MinContextLength = minContext,
                SupportsTools = tools,
                SupportsVision = vision,
                SupportsReasoning = reasoning,
                Mode = mode,
            };
            return (result == new ModelInfoOverride() ? null : result, id);
        }

        private ModelMode? ReadMode(YamlNode node, string path)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                return null;
            }

            switch (text.Value.Trim().ToLowerInvariant())
            {
                case "chat":
                    return ModelMode.Chat;
                case "completion":
                    return ModelMode.Completion;
                case "embedding":
                    return ModelMode.Embedding;
                default:
                    Error(node, path, $"expected one of chat, completion, embedding, got {text}");
                    return null;
            }
        }

        private string? ReadGeneralSettings(YamlNode node)
        {
            if (IsNull(node) || ExpectMapping(node, "general_settings") is not { } map)
            {
                return null;
            }

            string? masterKey = null;
            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, "general_settings") is not { } key)
                {
                    continue;
                }

                var keyPath = $"general_settings.{key}";
                if (key == "master_key")
                {
                    masterKey = ReadScalar(value, keyPath)?.Value;
                }
                else
                {
                    Ignore(keyNode, keyPath, key switch
                    {
                        "database_url" or "store_model_in_db" => "no database: models come from this file and from discovery",
                        "alerting" or "alerting_threshold" => "alerting is not built in; scrape /metrics instead",
                        _ => "not a general_settings key this proxy uses",
                    });
                }
            }

            return masterKey;
        }

        private RouterPart ReadRouterSettings(YamlNode node)
        {
            var part = new RouterPart();
            if (IsNull(node) || ExpectMapping(node, "router_settings") is not { } map)
            {
                return part;
            }

            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, "router_settings") is not { } key)
                {
                    continue;
                }

                var keyPath = $"router_settings.{key}";
                part.Lines[key] = LineOf(keyNode.Start);
                if (ReadSharedRouterKey(part, key, value, keyPath))
                {
                    continue;
                }

                switch (key)
                {
                    case "timeout":
                        part.Timeout = ReadSeconds(value, keyPath, allowZero: false);
                        break;
                    case "cooldown_time":
                        part.CooldownTime = ReadSeconds(value, keyPath, allowZero: true);
                        break;
                    case "routing_strategy":
                        ReadRoutingStrategy(keyNode, value, keyPath);
                        break;
                    case "context_window_fallbacks":
                    case "content_policy_fallbacks":
                        Ignore(keyNode, keyPath, "only fallbacks on failure are supported; use fallbacks");
                        break;
                    case "model_group_alias":
                        Ignore(keyNode, keyPath, "give each alias its own model_list entry instead");
                        break;
                    case "redis_host":
                    case "redis_port":
                    case "redis_password":
                        Ignore(keyNode, keyPath, "one process keeps its routing state in memory");
                        break;
                    default:
                        Ignore(keyNode, keyPath, "not a router_settings key this proxy uses");
                        break;
                }
            }

            return part;
        }

        private (RouterPart Part, bool DropParams) ReadLiteLlmSettings(YamlNode node)
        {
            var part = new RouterPart();
            var dropParams = false;
            if (IsNull(node) || ExpectMapping(node, "litellm_settings") is not { } map)
            {
                return (part, dropParams);
            }

            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, "litellm_settings") is not { } key)
                {
                    continue;
                }

                var keyPath = $"litellm_settings.{key}";
                part.Lines[key] = LineOf(keyNode.Start);
                if (ReadSharedRouterKey(part, key, value, keyPath))
                {
                    continue;
                }

                switch (key)
                {
                    case "drop_params":
                        dropParams = ReadBool(value, keyPath) ?? false;
                        break;
                    case "request_timeout":
                        part.Timeout = ReadSeconds(value, keyPath, allowZero: false);
                        break;
                    case "set_verbose":
                    case "json_logs":
                        Ignore(keyNode, keyPath, "logging is set with LOG_LEVEL and DEV_MODE");
                        break;
                    case "callbacks":
                    case "success_callback":
                    case "failure_callback":
                        Ignore(keyNode, keyPath, "callbacks are not supported; scrape /metrics instead");
                        break;
                    case "cache":
                    case "cache_params":
                        Ignore(keyNode, keyPath, "responses are not cached");
                        break;
                    case "context_window_fallbacks":
                    case "content_policy_fallbacks":
                        Ignore(keyNode, keyPath, "only fallbacks on failure are supported; use fallbacks");
                        break;
                    default:
                        Ignore(keyNode, keyPath, "not a litellm_settings key this proxy uses");
                        break;
                }
            }

            return (part, dropParams);
        }

        // Keys LiteLLM accepts in both router_settings and litellm_settings.
        private bool ReadSharedRouterKey(RouterPart part, string key, YamlNode value, string keyPath)
        {
            switch (key)
            {
                case "num_retries":
                    part.NumRetries = ReadInteger(value, keyPath, 0, 100);
                    return true;
                case "allowed_fails":
                    part.AllowedFails = ReadInteger(value, keyPath, 0, int.MaxValue);
                    return true;
                case "fallbacks":
                    part.Fallbacks = ReadFallbacks(value, keyPath);
                    return true;
                default:
                    return false;
            }
        }

        private void ReadRoutingStrategy(YamlNode keyNode, YamlNode value, string path)
        {
            if (ReadScalar(value, path) is not { } text)
            {
                return;
            }

            if (!RoutingStrategies.Contains(text.Value))
            {
                Error(value, path, $"expected one of {string.Join(", ", RoutingStrategies)}, got {text}");
            }
            else if (text.Value != "simple-shuffle")
            {
                Ignore(keyNode, path, $"\"{text.Value}\" is treated as simple-shuffle: groups are balanced round-robin");
            }
        }

        private ModelGroupFallback[]? ReadFallbacks(YamlNode node, string path)
        {
            if (IsNull(node))
            {
                return null;
            }

            const string Shape = "a list of {\"group\": [\"fallback-group\", …]}";
            if (node is not YamlSequenceNode list)
            {
                Error(node, path, $"expected {Shape}, got {Describe(node)}");
                return null;
            }

            var result = new List<ModelGroupFallback>();
            for (var i = 0; i < list.Children.Count; i++)
            {
                var itemPath = $"{path}[{i}]";
                if (list.Children[i] is not YamlMappingNode item || item.Children.Count != 1)
                {
                    Error(list.Children[i], itemPath, $"expected one mapping {{\"group\": [\"fallback-group\", …]}}, got {Describe(list.Children[i])}");
                    continue;
                }

                var (fromNode, toNode) = item.Children.First();
                if (KeyOf(fromNode, itemPath) is not { } from)
                {
                    continue;
                }

                if (ReadStringOrList(toNode, $"{itemPath}.{from}") is { Length: > 0 } to)
                {
                    result.Add(new ModelGroupFallback(from, to));
                }
                else if (IsNull(toNode))
                {
                    Error(toNode, $"{itemPath}.{from}", "expected a list of fallback groups, got nothing");
                }
            }

            return result.ToArray();
        }

        private ReadOnlyDictionary<string, string> ReadHeaders(YamlNode node, string path)
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (IsNull(node) || ExpectMapping(node, path) is not { } map)
            {
                return headers.AsReadOnly();
            }

            foreach (var (keyNode, value) in map.Children)
            {
                if (KeyOf(keyNode, path) is not { } name)
                {
                    continue;
                }

                var keyPath = $"{path}.{name}";
                if (name.Length == 0 || name.Any(c => c <= ' ' || c >= 127 || c == ':'))
                {
                    Error(keyNode, keyPath, $"expected an HTTP header name (letters, digits, '-'), got \"{name}\"");
                    continue;
                }

                if (ReadScalar(value, keyPath) is { } text)
                {
                    if (text.Value.Contains('\r', StringComparison.Ordinal) || text.Value.Contains('\n', StringComparison.Ordinal))
                    {
                        Error(value, keyPath, "expected a header value on one line, got a value with a line break");
                        continue;
                    }

                    headers[name] = text.Value;
                }
            }

            return headers.AsReadOnly();
        }

        private string[]? ReadStringOrList(YamlNode node, string path)
        {
            if (node is YamlSequenceNode list)
            {
                var items = new List<string>(list.Children.Count);
                for (var i = 0; i < list.Children.Count; i++)
                {
                    if (ReadScalar(list.Children[i], $"{path}[{i}]") is { } item)
                    {
                        items.Add(item.Value);
                    }
                }

                return items.ToArray();
            }

            return ReadScalar(node, path) is { } one ? [one.Value] : null;
        }

        private double? ReadNumber(YamlNode node, string path, double min, double max)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                return null;
            }

            if (!TryParseNumber(text.Value, out var number) || number < min || number > max)
            {
                Error(node, path, $"expected a number between {Format(min)} and {Format(max)}, got {text}");
                return null;
            }

            return number;
        }

        private int? ReadInteger(YamlNode node, string path, int min, int max)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                return null;
            }

            if (!long.TryParse(text.Value.Trim().Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                || number < min || number > max)
            {
                var expected = (min, max) switch
                {
                    (0, int.MaxValue) => "a whole number of 0 or more",
                    (1, int.MaxValue) => "a whole number greater than 0",
                    _ => $"a whole number between {min} and {max}",
                };
                Error(node, path, $"expected {expected}, got {text}");
                return null;
            }

            return (int)number;
        }

        private long? ReadLong(YamlNode node, string path)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                return null;
            }

            if (!long.TryParse(text.Value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            {
                Error(node, path, $"expected a whole number, got {text}");
                return null;
            }

            return number;
        }

        private TimeSpan? ReadSeconds(YamlNode node, string path, bool allowZero)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                return null;
            }

            if (!TryParseNumber(text.Value, out var seconds) || seconds < 0 || (seconds == 0 && !allowZero) || seconds > MaxSeconds)
            {
                var lower = allowZero ? "0 or more" : "greater than 0";
                Error(node, path, $"expected a number of seconds {lower} and at most {MaxSeconds:0}, got {text}");
                return null;
            }

            return TimeSpan.FromSeconds(seconds);
        }

        private bool? ReadBool(YamlNode node, string path)
        {
            if (ReadScalar(node, path) is not { } text)
            {
                return null;
            }

            // The YAML 1.1 spellings PyYAML (and so LiteLLM) accepts.
            switch (text.Value.Trim().ToLowerInvariant())
            {
                case "true" or "yes" or "on":
                    return true;
                case "false" or "no" or "off":
                    return false;
                default:
                    Error(node, path, $"expected true or false, got {text}");
                    return null;
            }
        }

        /// <summary>
        /// A scalar's text with <c>os.environ/VAR</c> resolved; null (with an error where it is one) for null,
        /// a mapping, a list or a missing variable.
        /// </summary>
        private ScalarText? ReadScalar(YamlNode node, string path, bool processOnly = false)
        {
            if (IsNull(node))
            {
                return null;
            }

            if (node is not YamlScalarNode scalar)
            {
                Error(node, path, $"expected a single value, got {Describe(node)}");
                return null;
            }

            var raw = scalar.Value ?? "";
            if (!raw.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
            {
                return new ScalarText(raw, null);
            }

            var variable = raw[EnvironmentPrefix.Length..].Trim();
            if (variable.Length == 0)
            {
                Error(node, path, $"expected a variable name after \"{EnvironmentPrefix}\", got \"{raw}\"");
                return null;
            }

            // The process environment wins over the file's own environment_variables.
            var value = processEnvironment(variable);
            if (value is null && !processOnly)
            {
                _configEnvironment.TryGetValue(variable, out value);
            }

            if (value is null)
            {
                Error(node, path, $"environment variable {variable} is not set (referenced as \"{raw}\")",
                    ConfigErrorKind.MissingEnvironmentVariable);
                return null;
            }

            return new ScalarText(value, variable);
        }

        private YamlMappingNode? ExpectMapping(YamlNode node, string path)
        {
            if (node is YamlMappingNode map)
            {
                return map;
            }

            Error(node, path, $"expected a mapping of keys to values, got {Describe(node)}");
            return null;
        }

        private string? KeyOf(YamlNode keyNode, string parentPath)
        {
            if (keyNode is YamlScalarNode { Value: { } key })
            {
                return key;
            }

            Error(keyNode, parentPath, $"expected a plain key, got {Describe(keyNode)}");
            return null;
        }

        private void Error(YamlNode node, string path, string message, ConfigErrorKind kind = ConfigErrorKind.InvalidValue) =>
            Errors.Add(new ConfigError(kind, source, LineOf(node.Start), path, message));

        private void Ignore(YamlNode keyNode, string path, string reason) =>
            _ignored.Add(new ConfigWarning(path, LineOf(keyNode.Start), reason));

        private static YamlNode? Find(YamlMappingNode map, string key) =>
            map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

        private static bool IsNull(YamlNode node) =>
            node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

        private static string Describe(YamlNode node) => node switch
        {
            YamlMappingNode => "a mapping",
            YamlSequenceNode => "a list",
            _ when IsNull(node) => "nothing",
            YamlScalarNode s => $"\"{s.Value}\"",
            _ => "something else",
        };

        private static bool TryParseNumber(string text, out double number) =>
            double.TryParse(text.Trim().Replace("_", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out number)
            && double.IsFinite(number);

        private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A resolved scalar; prints as it appears in error messages, naming the variable it came from.</summary>
    private sealed record ScalarText(string Value, string? Variable)
    {
        public override string ToString()
        {
            var shown = Value.Length > 60 ? Value[..57] + "..." : Value;
            // Numbers print bare ("got -5"), text quoted ("got \"hot\"") so an empty or spaced value is visible.
            var isNumber = double.TryParse(Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
            var quoted = isNumber ? shown : $"\"{shown}\"";
            return Variable is null ? quoted : $"{quoted} (from os.environ/{Variable})";
        }
    }

    /// <summary>Retry and fallback keys as written in one section, before router_settings and litellm_settings merge.</summary>
    private sealed class RouterPart
    {
        public int? NumRetries { get; set; }
        public TimeSpan? Timeout { get; set; }
        public IReadOnlyList<ModelGroupFallback>? Fallbacks { get; set; }
        public TimeSpan? CooldownTime { get; set; }
        public int? AllowedFails { get; set; }

        /// <summary>Line of each key as written, to say which one lost when both sections set it.</summary>
        public Dictionary<string, int> Lines { get; } = new(StringComparer.Ordinal);
    }
}
