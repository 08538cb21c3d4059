using System.Collections.ObjectModel;
using YamlDotNet.RepresentationModel;
using static CopilotProxy.Configuration.ConfigReader;

namespace CopilotProxy.Configuration;

/// <summary>Reads one model's <c>litellm_params</c>: the provider and upstream id, <c>api_base</c>, key and request defaults.</summary>
internal static class LiteLlmParamsReader
{
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

    internal static ModelEntry? Read(ConfigReader reader, YamlMappingNode map, string path)
    {
        (string Provider, string Id)? model = null;
        (Uri Base, string Prefix)? apiBase = null;
        string? apiKey = null;
        var defaults = new ModelDefaults();
        var ok = true;

        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, path) is not { } key)
            {
                continue;
            }

            var keyPath = $"{path}.{key}";
            switch (key)
            {
                case "model":
                    model = ReadModel(reader, value, keyPath);
                    ok &= model is not null;
                    break;
                case "api_base":
                case "base_url":
                    if (key == "base_url" && Find(map, "api_base") is not null)
                    {
                        reader.Ignore(keyNode, keyPath, "api_base is also set and wins");
                        break;
                    }

                    apiBase = ReadApiBase(reader, value, keyPath);
                    break;
                case "api_key":
                    apiKey = reader.ReadScalar(value, keyPath)?.Value;
                    break;
                case "temperature":
                    defaults = defaults with { Temperature = reader.ReadNumber(value, keyPath, 0, 2) };
                    break;
                case "top_p":
                    defaults = defaults with { TopP = reader.ReadNumber(value, keyPath, 0, 1) };
                    break;
                case "presence_penalty":
                    defaults = defaults with { PresencePenalty = reader.ReadNumber(value, keyPath, -2, 2) };
                    break;
                case "frequency_penalty":
                    defaults = defaults with { FrequencyPenalty = reader.ReadNumber(value, keyPath, -2, 2) };
                    break;
                case "max_tokens":
                    defaults = defaults with { MaxTokens = reader.ReadInteger(value, keyPath, 1, int.MaxValue) };
                    break;
                case "seed":
                    defaults = defaults with { Seed = reader.ReadLong(value, keyPath) };
                    break;
                case "stop":
                    defaults = defaults with { Stop = reader.ReadStringOrList(value, keyPath) };
                    break;
                case "reasoning_effort":
                    defaults = defaults with { ReasoningEffort = reader.ReadScalar(value, keyPath)?.Value };
                    break;
                case "timeout":
                    defaults = defaults with { Timeout = reader.ReadSeconds(value, keyPath, allowZero: false) };
                    break;
                case "stream_timeout":
                    defaults = defaults with { StreamTimeout = reader.ReadSeconds(value, keyPath, allowZero: false) };
                    break;
                case "extra_headers":
                    defaults = defaults with { ExtraHeaders = ReadHeaders(reader, value, keyPath) };
                    break;
                case "max_parallel_requests":
                    defaults = defaults with { MaxParallelRequests = reader.ReadInteger(value, keyPath, 1, 10_000) };
                    break;
                case "rpm":
                case "tpm":
                    reader.Ignore(keyNode, keyPath, "rate limits are not enforced: a local upstream queues requests itself");
                    break;
                case "organization":
                    reader.Ignore(keyNode, keyPath, "OpenAI cloud organisations do not apply to local upstreams");
                    break;
                case "api_version":
                    reader.Ignore(keyNode, keyPath, "Azure only");
                    break;
                case "max_retries":
                    reader.Ignore(keyNode, keyPath, "retries are set once in router_settings.num_retries");
                    break;
                case "weight":
                case "order":
                    reader.Ignore(keyNode, keyPath, "groups are balanced round-robin, without weights or order");
                    break;
                case "input_cost_per_token":
                case "output_cost_per_token":
                    reader.Ignore(keyNode, keyPath, "costs are not tracked");
                    break;
                default:
                    reader.Ignore(keyNode, keyPath, "not a litellm_params key this proxy uses");
                    break;
            }
        }

        if (Find(map, "model") is null)
        {
            reader.Error(map, $"{path}.model", "is required, e.g. \"openai/<id>\", \"lm_studio/<id>\" or a bare model id");
            return null;
        }

        if (!ok || model is not { } m)
        {
            return null;
        }

        // LiteLLM's own default for ollama is http://localhost:11434, which is this proxy's Ollama front door: a loop.
        if (apiBase is null && m.Provider is UpstreamProvider.Ollama or UpstreamProvider.OllamaChat)
        {
            reader.Error(map, $"{path}.api_base", $"is required for {m.Provider}/ models: LiteLLM's default http://localhost:11434 is this proxy's own Ollama port");
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

    private static (string Provider, string Id)? ReadModel(ConfigReader reader, YamlNode node, string path)
    {
        if (reader.ReadScalar(node, path) is not { } text)
        {
            if (IsNull(node))
            {
                reader.Error(node, path, "expected a model such as \"openai/<id>\", got nothing");
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
            reader.Error(node, path,
                $"provider \"{prefix}\" is not supported: it needs a cloud SDK or a non-OpenAI protocol, and this proxy only relays to " +
                $"OpenAI-compatible upstreams; use one of {string.Join(", ", SupportedProviders.Select(p => p + "/<id>"))} or a bare id",
                ConfigErrorKind.Unsupported);
            return null;
        }

        return (UpstreamProvider.Bare, value);

        (string, string)? Invalid(string expected)
        {
            reader.Error(node, path, $"expected {expected}, got {text}");
            return null;
        }
    }

    private static (Uri Base, string Prefix)? ReadApiBase(ConfigReader reader, YamlNode node, string path)
    {
        if (reader.ReadScalar(node, path) is not { } text)
        {
            return null;
        }

        if (!Uri.TryCreate(text.Value.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            reader.Error(node, path, $"expected an http:// or https:// URL such as \"http://localhost:1234/v1\", got {text}");
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

    private static ReadOnlyDictionary<string, string> ReadHeaders(ConfigReader reader, YamlNode node, string path)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (IsNull(node) || reader.ExpectMapping(node, path) is not { } map)
        {
            return headers.AsReadOnly();
        }

        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, path) is not { } name)
            {
                continue;
            }

            var keyPath = $"{path}.{name}";
            if (name.Length == 0 || name.Any(c => c <= ' ' || c >= 127 || c == ':'))
            {
                reader.Error(keyNode, keyPath, $"expected an HTTP header name (letters, digits, '-'), got \"{name}\"");
                continue;
            }

            if (reader.ReadScalar(value, keyPath) is { } text)
            {
                if (text.Value.Contains('\r', StringComparison.Ordinal) || text.Value.Contains('\n', StringComparison.Ordinal))
                {
                    reader.Error(value, keyPath, "expected a header value on one line, got a value with a line break");
                    continue;
                }

                headers[name] = text.Value;
            }
        }

        return headers.AsReadOnly();
    }
}
