using System.Collections.ObjectModel;

namespace CopilotProxy.Configuration;

/// <summary>
/// The OpenAI gateway's configuration as read from a LiteLLM-format <c>config.yaml</c>: which public model names
/// the model catalog exposes, which upstream serves each one, and the routing and auth settings.
/// </summary>
public sealed record GatewayConfig
{
    /// <summary>The zero-configuration default: no file, every model discovered upstream is served as itself.</summary>
    public static GatewayConfig Empty { get; } = new();

    /// <summary>Entries of <c>model_list</c> in file order; several entries may share a <see cref="ModelEntry.ModelName"/> (a group).</summary>
    public IReadOnlyList<ModelEntry> Models { get; init; } = [];

    /// <summary><c>general_settings.master_key</c>; the <c>API_KEY</c> environment variable wins over it.</summary>
    public string? MasterKey { get; init; }

    /// <summary><c>general_settings.database_url</c>: the PostgreSQL server for virtual keys; DATABASE_URL wins over it.</summary>
    public string? DatabaseUrl { get; init; }

    /// <summary><c>router_settings</c>, with the retry and fallback keys LiteLLM also accepts in <c>litellm_settings</c> merged in.</summary>
    public RouterSettings Router { get; init; } = new();

    /// <summary>The remaining <c>litellm_settings</c> keys that change request handling.</summary>
    public LiteLlmSettings LiteLlm { get; init; } = new();

    /// <summary>
    /// LiteLLM's top-level <c>environment_variables</c> map. The proxy's own settings (<c>LMSTUDIO_URL</c>, <c>LOG_LEVEL</c>, …)
    /// may be given here; the process environment wins over them.
    /// </summary>
    public IReadOnlyDictionary<string, string> EnvironmentVariables { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    /// <summary>Keys that were read but have no effect here, one log line each.</summary>
    public IReadOnlyList<ConfigWarning> Ignored { get; init; } = [];

    /// <summary>The file this was read from, or null when parsed from text.</summary>
    public string? SourcePath { get; init; }

    /// <summary>False when no file existed at the default path, which is fine: zero configuration is the default.</summary>
    public bool IsFilePresent { get; init; }

    /// <summary>True when an entry such as <c>model_name: "*"</c> exposes every model discovered upstream.</summary>
    public bool HasWildcard => Models.Any(m => m.IsWildcard);

    /// <summary>The entries of one group (all entries with this exact <c>model_name</c>), in file order; empty when none.</summary>
    public IReadOnlyList<ModelEntry> FindGroup(string modelName) =>
        Models.Where(m => string.Equals(m.ModelName, modelName, StringComparison.Ordinal)).ToArray();
}

/// <summary>One <c>model_list</c> entry: a public model name mapped to one model on one upstream.</summary>
public sealed record ModelEntry
{
    /// <summary>The public name clients ask for (an alias or group name); <c>"*"</c> or <c>"prefix/*"</c> for a wildcard.</summary>
    public required string ModelName { get; init; }

    /// <summary>The model id sent to the upstream, with the provider prefix stripped; <c>"*"</c> for <c>lm_studio/*</c>.</summary>
    public required string UpstreamModel { get; init; }

    /// <summary>One of the <see cref="UpstreamProvider"/> values.</summary>
    public required string Provider { get; init; }

    /// <summary>
    /// The upstream's root without a trailing <c>/v1</c>, or null for the default upstream (<c>LMSTUDIO_URL</c>).
    /// OpenAI routes live under <see cref="ApiBase"/> + <see cref="OpenAIRoutePrefix"/>.
    /// </summary>
    public Uri? ApiBase { get; init; }

    /// <summary><c>"/v1"</c> when OpenAI routes hang under <c>/v1</c> of <see cref="ApiBase"/>, or <c>""</c> when the given base already was the OpenAI root.</summary>
    public string OpenAIRoutePrefix { get; init; } = "/v1";

    /// <summary>Bearer key sent to the upstream, after <c>os.environ/</c> resolution.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Request fields applied when the client did not set them.</summary>
    public ModelDefaults Defaults { get; init; } = ModelDefaults.None;

    /// <summary>Corrections to what the upstream reports about the model; null when <c>model_info</c> overrides nothing.</summary>
    public ModelInfoOverride? InfoOverride { get; init; }

    /// <summary><c>model_info.id</c>, LiteLLM's deployment id, kept so health reports can name the entry.</summary>
    public string? DeploymentId { get; init; }

    /// <summary>True for <c>model_name: "*"</c> or <c>"prefix/*"</c>: the entry matches models discovered upstream.</summary>
    public bool IsWildcard { get; init; }

    /// <summary>1-based line of the entry in the file, for log lines and errors.</summary>
    public int Line { get; init; }
}

/// <summary>Provider prefixes accepted in <c>litellm_params.model</c>; all of them speak the OpenAI API.</summary>
public static class UpstreamProvider
{
    public const string OpenAI = "openai";
    public const string LmStudio = "lm_studio";
    public const string Ollama = "ollama";
    public const string OllamaChat = "ollama_chat";
    public const string HostedVllm = "hosted_vllm";

    /// <summary>A bare model id with no provider prefix.</summary>
    public const string Bare = "";
}

/// <summary>Per-model request defaults from <c>litellm_params</c>; fields the client sets always win.</summary>
public sealed record ModelDefaults
{
    public static ModelDefaults None { get; } = new();

    public double? Temperature { get; init; }
    public int? MaxTokens { get; init; }
    public double? TopP { get; init; }
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    public long? Seed { get; init; }

    /// <summary>Stop sequences; a single string in the file becomes a one-item list.</summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>Passed through as the request's <c>reasoning_effort</c> (e.g. for gpt-oss on LM Studio).</summary>
    public string? ReasoningEffort { get; init; }

    /// <summary>Whole-request timeout for this model; overrides <see cref="RouterSettings.Timeout"/>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Timeout for streaming requests of this model.</summary>
    public TimeSpan? StreamTimeout { get; init; }

    /// <summary>
    /// <c>max_parallel_requests</c>: requests in flight to this deployment at once; more wait in its fair queue
    /// (round-robin across keys). Null leaves queueing to the upstream.
    /// </summary>
    public int? MaxParallelRequests { get; init; }

    /// <summary>Headers added to every upstream request for this model.</summary>
    public IReadOnlyDictionary<string, string> ExtraHeaders { get; init; } = ReadOnlyDictionary<string, string>.Empty;
}

/// <summary>What a model is used for, from <c>model_info.mode</c>.</summary>
public enum ModelMode
{
    Chat,
    Completion,
    Embedding,
}

/// <summary><c>model_info</c> overrides for capabilities the upstream reports wrongly or not at all.</summary>
public sealed record ModelInfoOverride
{
    /// <summary>From <c>max_input_tokens</c>, else <c>context_length</c>, else <c>max_tokens</c>.</summary>
    public int? ContextLength { get; init; }

    public int? MaxOutputTokens { get; init; }

    /// <summary><c>min_context_length</c>: this model's own MIN_CONTEXT_LENGTH (0 turns loading with a floor off for it).</summary>
    public int? MinContextLength { get; init; }

    /// <summary>LiteLLM's <c>supports_function_calling</c>.</summary>
    public bool? SupportsTools { get; init; }

    public bool? SupportsVision { get; init; }
    public bool? SupportsReasoning { get; init; }
    public ModelMode? Mode { get; init; }

    /// <summary><c>tool_call_format</c>: <c>auto</c>, a format name (docs/models.md) or <c>off</c>, checked when the file is read.</summary>
    public string? ToolCallFormat { get; init; }
    /// <summary><c>reasoning_format</c>: how this model writes reasoning into its text (<c>auto</c>, a named form, or <c>off</c>).</summary>
    public ReasoningFormats? ReasoningFormat { get; init; }
}

/// <summary>When a group fails after its retries, try these groups in order.</summary>
public sealed record ModelGroupFallback(string From, IReadOnlyList<string> To);

/// <summary>Retry, timeout, fallback and cooldown settings; defaults are LiteLLM's own.</summary>
public sealed record RouterSettings
{
    /// <summary>LiteLLM's Router falls back to the OpenAI SDK's <c>DEFAULT_MAX_RETRIES</c>, which is 2.</summary>
    public const int DefaultNumRetries = 2;

    /// <summary>LiteLLM's <c>DEFAULT_ALLOWED_FAILS</c>.</summary>
    public const int DefaultAllowedFails = 3;

    /// <summary>LiteLLM's <c>litellm.request_timeout</c> default (6000 s): local models may need minutes to load just in time.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(6000);

    /// <summary>LiteLLM's <c>DEFAULT_COOLDOWN_TIME_SECONDS</c>.</summary>
    public static TimeSpan DefaultCooldownTime { get; } = TimeSpan.FromSeconds(5);

    /// <summary>Retries per request on connect failures and 5xx, only before the first byte reached the client.</summary>
    public int NumRetries { get; init; } = DefaultNumRetries;

    /// <summary>Whole-request timeout when the model sets none.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    public IReadOnlyList<ModelGroupFallback> Fallbacks { get; init; } = [];

    /// <summary>How long a failed upstream entry is skipped.</summary>
    public TimeSpan CooldownTime { get; init; } = DefaultCooldownTime;

    /// <summary>Failures within a minute an entry may have before it is cooled down.</summary>
    public int AllowedFails { get; init; } = DefaultAllowedFails;
}

/// <summary><c>litellm_settings</c> keys that change request handling (retries and fallbacks merge into <see cref="RouterSettings"/>).</summary>
public sealed record LiteLlmSettings
{
    /// <summary>Drop request fields the upstream rejects instead of failing the request.</summary>
    public bool DropParams { get; init; }

    /// <summary><c>request_timeout</c> as written; <see cref="RouterSettings.Timeout"/> already holds the effective value.</summary>
    public TimeSpan? RequestTimeout { get; init; }
}

/// <summary>A key that was read but has no effect, with where it is and why, for one log line.</summary>
public sealed record ConfigWarning(string KeyPath, int Line, string Reason)
{
    public override string ToString() => $"line {Line}: {KeyPath}: {Reason}";
}

/// <summary>Why a configuration could not be used.</summary>
public enum ConfigErrorKind
{
    /// <summary>An explicitly configured path (<c>CONFIG_FILE</c>) does not exist.</summary>
    FileNotFound,

    /// <summary>The file exists but could not be read.</summary>
    Unreadable,

    /// <summary>The text is not valid YAML.</summary>
    Syntax,

    /// <summary>A value has the wrong type or is out of range, or a required key is missing.</summary>
    InvalidValue,

    /// <summary>An <c>os.environ/VAR</c> reference names a variable that is not set.</summary>
    MissingEnvironmentVariable,

    /// <summary>A LiteLLM feature this proxy deliberately refuses (cloud providers, <c>include</c>).</summary>
    Unsupported,
}

/// <summary>One problem in a configuration file, printed as <c>file:line: key.path: what was expected, got what</c>.</summary>
public sealed record ConfigError(ConfigErrorKind Kind, string Source, int Line, string KeyPath, string Message)
{
    public override string ToString() => (Line, KeyPath.Length) switch
    {
        (0, 0) => $"{Source}: {Message}",
        (0, _) => $"{Source}: {KeyPath}: {Message}",
        (_, 0) => $"{Source}:{Line}: {Message}",
        _ => $"{Source}:{Line}: {KeyPath}: {Message}",
    };
}

/// <summary>Where the configuration file is looked for, and whether the user asked for that path.</summary>
public sealed record ConfigFileLocation(string Path, bool IsExplicit);

/// <summary>The outcome of loading: a configuration, or every error found.</summary>
public sealed record GatewayConfigLoadResult
{
    /// <summary>The configuration; null exactly when <see cref="Errors"/> is not empty.</summary>
    public GatewayConfig? Config { get; init; }

    public IReadOnlyList<ConfigError> Errors { get; init; } = [];

    public bool Succeeded => Errors.Count == 0;
}
