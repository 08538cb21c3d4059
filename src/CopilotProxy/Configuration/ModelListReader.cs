using YamlDotNet.RepresentationModel;
using static CopilotProxy.Configuration.ConfigReader;

namespace CopilotProxy.Configuration;

/// <summary>Reads <c>model_list</c>: one <see cref="ModelEntry"/> per entry, with its <c>model_info</c> override.</summary>
internal static class ModelListReader
{
    internal static ModelEntry[] Read(ConfigReader reader, YamlNode node)
    {
        if (IsNull(node))
        {
            return [];
        }

        if (node is not YamlSequenceNode list)
        {
            reader.Error(node, "model_list", $"expected a list of models (lines starting with \"- model_name:\"), got {Describe(node)}");
            return [];
        }

        var entries = new List<ModelEntry>(list.Children.Count);
        for (var i = 0; i < list.Children.Count; i++)
        {
            if (ReadModelEntry(reader, list.Children[i], $"model_list[{i}]") is { } entry)
            {
                entries.Add(entry);
            }
        }

        return entries.ToArray();
    }

    private static ModelEntry? ReadModelEntry(ConfigReader reader, YamlNode node, string path)
    {
        if (reader.ExpectMapping(node, path) is not { } map)
        {
            return null;
        }

        string? modelName = null;
        YamlMappingNode? parameters = null;
        YamlMappingNode? info = null;
        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, path) is not { } key)
            {
                continue;
            }

            switch (key)
            {
                case "model_name":
                    modelName = ReadModelName(reader, value, $"{path}.model_name");
                    break;
                case "litellm_params":
                    parameters = reader.ExpectMapping(value, $"{path}.litellm_params");
                    break;
                case "model_info":
                    info = IsNull(value) ? null : reader.ExpectMapping(value, $"{path}.model_info");
                    break;
                default:
                    reader.Ignore(keyNode, $"{path}.{key}", "not a model_list key this proxy uses");
                    break;
            }
        }

        if (Find(map, "model_name") is null)
        {
            reader.Error(map, $"{path}.model_name", "is required: the public name clients ask for");
        }

        if (Find(map, "litellm_params") is null)
        {
            reader.Error(map, $"{path}.litellm_params", "is required, with at least \"model: <provider>/<id>\"");
        }

        var entry = parameters is null ? null : LiteLlmParamsReader.Read(reader, parameters, $"{path}.litellm_params");
        var (infoOverride, deploymentId) = info is null ? (null, null) : ReadModelInfo(reader, info, $"{path}.model_info");
        if (modelName is null || entry is null)
        {
            return null;
        }

        var isWildcard = modelName.EndsWith('*');
        if (entry.UpstreamModel == "*" && !isWildcard)
        {
            reader.Error(map, $"{path}.model_name", $"expected a wildcard model_name such as \"*\" for a wildcard model, got \"{modelName}\"");
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

    private static string? ReadModelName(ConfigReader reader, YamlNode node, string path)
    {
        if (reader.ReadScalar(node, path) is not { } name)
        {
            if (IsNull(node))
            {
                reader.Error(node, path, "expected a non-empty model name, got nothing");
            }

            return null;
        }

        if (name.Value.Trim().Length == 0)
        {
            reader.Error(node, path, $"expected a non-empty model name, got {name}");
            return null;
        }

        // '*' only works as a trailing wildcard ("*" or "prefix/*"), as in LiteLLM's pattern routing.
        if (name.Value.IndexOf('*', StringComparison.Ordinal) is var star and >= 0 && star != name.Value.Length - 1)
        {
            reader.Error(node, path, $"expected \"*\" only at the end (\"*\" or \"prefix/*\"), got {name}");
            return null;
        }

        return name.Value;
    }

    private static (ModelInfoOverride? Override, string? Id) ReadModelInfo(ConfigReader reader, YamlMappingNode map, string path)
    {
        int? maxInput = null, contextLength = null, maxTokens = null, maxOutput = null, minContext = null;
        bool? tools = null, vision = null, reasoning = null;
        ModelMode? mode = null;
        ReasoningFormats? reasoningFormat = null;
        string? id = null, toolCallFormat = null;
        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, path) is not { } key)
            {
                continue;
            }

            var keyPath = $"{path}.{key}";
            switch (key)
            {
                case "max_input_tokens":
                    maxInput = reader.ReadInteger(value, keyPath, 1, int.MaxValue);
                    break;
                case "context_length":
                    contextLength = reader.ReadInteger(value, keyPath, 1, int.MaxValue);
                    break;
                case "max_tokens":
                    maxTokens = reader.ReadInteger(value, keyPath, 1, int.MaxValue);
                    break;
                case "max_output_tokens":
                    maxOutput = reader.ReadInteger(value, keyPath, 1, int.MaxValue);
                    break;
                case "min_context_length":
                    minContext = reader.ReadInteger(value, keyPath, 0, 16 * 1024 * 1024);
                    break;
                case "supports_function_calling":
                    tools = reader.ReadBool(value, keyPath);
                    break;
                case "supports_vision":
                    vision = reader.ReadBool(value, keyPath);
                    break;
                case "supports_reasoning":
                    reasoning = reader.ReadBool(value, keyPath);
                    break;
                case "mode":
                    mode = ReadMode(reader, value, keyPath);
                    break;
                case "tool_call_format":
                    toolCallFormat = ReadToolCallFormat(reader, value, keyPath);
                    break;
                case "reasoning_format":
                    reasoningFormat = ReadReasoningFormat(reader, value, keyPath);
                    break;
                case "id":
                    id = reader.ReadScalar(value, keyPath)?.Value;
                    break;
                default:
                    reader.Ignore(keyNode, keyPath, "not a model_info key this proxy uses");
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
            ToolCallFormat = toolCallFormat,
            ReasoningFormat = reasoningFormat,
        };
        return (result == new ModelInfoOverride() ? null : result, id);
    }

    private static string? ReadToolCallFormat(ConfigReader reader, YamlNode node, string path)
    {
        if (reader.ReadScalar(node, path) is not { } text)
        {
            return null;
        }

        if (!ToolCallFormatNames.IsSetting(text.Value.Trim()))
        {
            reader.Error(node, path, $"expected one of {string.Join(", ", ToolCallFormatNames.Settings)} (docs/models.md says which model writes which), got {text}");
            return null;
        }

        return text.Value.Trim().ToLowerInvariant();
    }

    private static ReasoningFormats? ReadReasoningFormat(ConfigReader reader, YamlNode node, string path)
    {
        if (reader.ReadScalar(node, path) is not { } text)
        {
            return null;
        }

        if (ReasoningFormatNames.TryParse(text.Value, out var formats))
        {
            return formats;
        }

        reader.Error(node, path, $"expected one of {string.Join(", ", ReasoningFormatNames.All.Select(f => f.Name))}, got {text}");
        return null;
    }

    private static ModelMode? ReadMode(ConfigReader reader, YamlNode node, string path)
    {
        if (reader.ReadScalar(node, path) is not { } text)
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
                reader.Error(node, path, $"expected one of chat, completion, embedding, got {text}");
                return null;
        }
    }
}
