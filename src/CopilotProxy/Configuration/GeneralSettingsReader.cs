using YamlDotNet.RepresentationModel;
using static CopilotProxy.Configuration.ConfigReader;

namespace CopilotProxy.Configuration;

/// <summary>Reads <c>general_settings</c>: <c>master_key</c> and <c>database_url</c> are used.</summary>
internal static class GeneralSettingsReader
{
    internal static (string? MasterKey, string? DatabaseUrl) Read(ConfigReader reader, YamlNode node)
    {
        if (IsNull(node) || reader.ExpectMapping(node, "general_settings") is not { } map)
        {
            return (null, null);
        }

        string? masterKey = null;
        string? databaseUrl = null;
        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, "general_settings") is not { } key)
            {
                continue;
            }

            var keyPath = $"general_settings.{key}";
            if (key == "master_key")
            {
                masterKey = reader.ReadScalar(value, keyPath)?.Value;
            }
            else if (key == "database_url")
            {
                databaseUrl = reader.ReadScalar(value, keyPath)?.Value;
            }
            else
            {
                reader.Ignore(keyNode, keyPath, key switch
                {
                    "store_model_in_db" => "models come from this file and from discovery, not from the key database",
                    "alerting" or "alerting_threshold" => "alerting is not built in; scrape /metrics instead",
                    _ => "not a general_settings key this proxy uses",
                });
            }
        }

        return (masterKey, databaseUrl);
    }
}
