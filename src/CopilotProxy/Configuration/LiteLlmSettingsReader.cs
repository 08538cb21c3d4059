using YamlDotNet.RepresentationModel;
using static CopilotProxy.Configuration.ConfigReader;

namespace CopilotProxy.Configuration;

/// <summary>Reads <c>litellm_settings</c>; its retry and fallback keys lose to the same keys in <c>router_settings</c>.</summary>
internal static class LiteLlmSettingsReader
{
    internal static (RouterPart Part, bool DropParams) Read(ConfigReader reader, YamlNode node)
    {
        var part = new RouterPart();
        var dropParams = false;
        if (IsNull(node) || reader.ExpectMapping(node, "litellm_settings") is not { } map)
        {
            return (part, dropParams);
        }

        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, "litellm_settings") is not { } key)
            {
                continue;
            }

            var keyPath = $"litellm_settings.{key}";
            part.Lines[key] = LineOf(keyNode.Start);
            if (RouterSettingsReader.ReadSharedRouterKey(reader, part, key, value, keyPath))
            {
                continue;
            }

            switch (key)
            {
                case "drop_params":
                    dropParams = reader.ReadBool(value, keyPath) ?? false;
                    break;
                case "request_timeout":
                    part.Timeout = reader.ReadSeconds(value, keyPath, allowZero: false);
                    break;
                case "set_verbose":
                case "json_logs":
                    reader.Ignore(keyNode, keyPath, "logging is set with LOG_LEVEL and DEV_MODE");
                    break;
                case "callbacks":
                case "success_callback":
                case "failure_callback":
                    reader.Ignore(keyNode, keyPath, "callbacks are not supported; scrape /metrics instead");
                    break;
                case "cache":
                case "cache_params":
                    reader.Ignore(keyNode, keyPath, "responses are not cached");
                    break;
                case "context_window_fallbacks":
                case "content_policy_fallbacks":
                    reader.Ignore(keyNode, keyPath, "only fallbacks on failure are supported; use fallbacks");
                    break;
                default:
                    reader.Ignore(keyNode, keyPath, "not a litellm_settings key this proxy uses");
                    break;
            }
        }

        return (part, dropParams);
    }
}
