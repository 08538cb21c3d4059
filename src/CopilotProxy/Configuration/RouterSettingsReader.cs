using YamlDotNet.RepresentationModel;
using static CopilotProxy.Configuration.ConfigReader;

namespace CopilotProxy.Configuration;

/// <summary>Reads <c>router_settings</c>, and the retry and fallback keys it shares with <c>litellm_settings</c>.</summary>
internal static class RouterSettingsReader
{
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

    internal static RouterPart Read(ConfigReader reader, YamlNode node)
    {
        var part = new RouterPart();
        if (IsNull(node) || reader.ExpectMapping(node, "router_settings") is not { } map)
        {
            return part;
        }

        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, "router_settings") is not { } key)
            {
                continue;
            }

            var keyPath = $"router_settings.{key}";
            part.Lines[key] = LineOf(keyNode.Start);
            if (ReadSharedRouterKey(reader, part, key, value, keyPath))
            {
                continue;
            }

            switch (key)
            {
                case "timeout":
                    part.Timeout = reader.ReadSeconds(value, keyPath, allowZero: false);
                    break;
                case "cooldown_time":
                    part.CooldownTime = reader.ReadSeconds(value, keyPath, allowZero: true);
                    break;
                case "routing_strategy":
                    ReadRoutingStrategy(reader, keyNode, value, keyPath);
                    break;
                case "context_window_fallbacks":
                case "content_policy_fallbacks":
                    reader.Ignore(keyNode, keyPath, "only fallbacks on failure are supported; use fallbacks");
                    break;
                case "model_group_alias":
                    reader.Ignore(keyNode, keyPath, "give each alias its own model_list entry instead");
                    break;
                case "redis_host":
                case "redis_port":
                case "redis_password":
                    reader.Ignore(keyNode, keyPath, "one process keeps its routing state in memory");
                    break;
                default:
                    reader.Ignore(keyNode, keyPath, "not a router_settings key this proxy uses");
                    break;
            }
        }

        return part;
    }

    // Keys LiteLLM accepts in both router_settings and litellm_settings.
    internal static bool ReadSharedRouterKey(ConfigReader reader, RouterPart part, string key, YamlNode value, string keyPath)
    {
        switch (key)
        {
            case "num_retries":
                part.NumRetries = reader.ReadInteger(value, keyPath, 0, 100);
                return true;
            case "allowed_fails":
                part.AllowedFails = reader.ReadInteger(value, keyPath, 0, int.MaxValue);
                return true;
            case "fallbacks":
                part.Fallbacks = ReadFallbacks(reader, value, keyPath);
                return true;
            default:
                return false;
        }
    }

    private static void ReadRoutingStrategy(ConfigReader reader, YamlNode keyNode, YamlNode value, string path)
    {
        if (reader.ReadScalar(value, path) is not { } text)
        {
            return;
        }

        if (!RoutingStrategies.Contains(text.Value))
        {
            reader.Error(value, path, $"expected one of {string.Join(", ", RoutingStrategies)}, got {text}");
        }
        else if (text.Value != "simple-shuffle")
        {
            reader.Ignore(keyNode, path, $"\"{text.Value}\" is treated as simple-shuffle: groups are balanced round-robin");
        }
    }

    private static ModelGroupFallback[]? ReadFallbacks(ConfigReader reader, YamlNode node, string path)
    {
        if (IsNull(node))
        {
            return null;
        }

        const string Shape = "a list of {\"group\": [\"fallback-group\", …]}";
        if (node is not YamlSequenceNode list)
        {
            reader.Error(node, path, $"expected {Shape}, got {Describe(node)}");
            return null;
        }

        var result = new List<ModelGroupFallback>();
        for (var i = 0; i < list.Children.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            if (list.Children[i] is not YamlMappingNode item || item.Children.Count != 1)
            {
                reader.Error(list.Children[i], itemPath, $"expected one mapping {{\"group\": [\"fallback-group\", …]}}, got {Describe(list.Children[i])}");
                continue;
            }

            var (fromNode, toNode) = item.Children.First();
            if (reader.KeyOf(fromNode, itemPath) is not { } from)
            {
                continue;
            }

            if (reader.ReadStringOrList(toNode, $"{itemPath}.{from}") is { Length: > 0 } to)
            {
                result.Add(new ModelGroupFallback(from, to));
            }
            else if (IsNull(toNode))
            {
                reader.Error(toNode, $"{itemPath}.{from}", "expected a list of fallback groups, got nothing");
            }
        }

        return result.ToArray();
    }

    /// <summary>
    /// The effective <see cref="RouterSettings"/>: router_settings win over litellm_settings, as LiteLLM passes them to
    /// Router() explicitly; each litellm_settings key that lost is reported as ignored.
    /// </summary>
    internal static RouterSettings Merge(ConfigReader reader, RouterPart router, RouterPart litellm)
    {
        foreach (var (key, routerKey) in SharedRouterKeys)
        {
            if (litellm.Lines.TryGetValue(key, out var line) && router.Lines.ContainsKey(routerKey))
            {
                reader.Ignored.Add(new ConfigWarning($"litellm_settings.{key}", line, $"router_settings.{routerKey} is also set and wins"));
            }
        }

        return new RouterSettings
        {
            NumRetries = router.NumRetries ?? litellm.NumRetries ?? RouterSettings.DefaultNumRetries,
            Timeout = router.Timeout ?? litellm.Timeout ?? RouterSettings.DefaultTimeout,
            Fallbacks = router.Fallbacks ?? litellm.Fallbacks ?? [],
            CooldownTime = router.CooldownTime ?? litellm.CooldownTime ?? RouterSettings.DefaultCooldownTime,
            AllowedFails = router.AllowedFails ?? litellm.AllowedFails ?? RouterSettings.DefaultAllowedFails,
        };
    }
}

/// <summary>Retry and fallback keys as written in one section, before router_settings and litellm_settings merge.</summary>
internal sealed class RouterPart
{
    public int? NumRetries { get; set; }
    public TimeSpan? Timeout { get; set; }
    public IReadOnlyList<ModelGroupFallback>? Fallbacks { get; set; }
    public TimeSpan? CooldownTime { get; set; }
    public int? AllowedFails { get; set; }

    /// <summary>Line of each key as written, to say which one lost when both sections set it.</summary>
    public Dictionary<string, int> Lines { get; } = new(StringComparer.Ordinal);
}
