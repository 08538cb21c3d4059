using YamlDotNet.RepresentationModel;
using static CopilotProxy.Configuration.ConfigReader;

namespace CopilotProxy.Configuration;

/// <summary>Reads <c>environment_variables</c>, which <c>os.environ/</c> references elsewhere in the file may name.</summary>
internal static class EnvironmentVariablesReader
{
    internal static Dictionary<string, string> Read(ConfigReader reader, YamlNode node)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (reader.ExpectMapping(node, "environment_variables") is not { } map)
        {
            return result;
        }

        foreach (var (keyNode, value) in map.Children)
        {
            if (reader.KeyOf(keyNode, "environment_variables") is not { } name)
            {
                continue;
            }

            var path = $"environment_variables.{name}";
            // Only the process environment here: one entry referring to another would depend on file order.
            if (reader.ReadScalar(value, path, processOnly: true) is { } text)
            {
                result[name] = text.Value;
            }
            else if (IsNull(value))
            {
                reader.Error(value, path, "expected a text value, got nothing");
            }
        }

        return result;
    }
}
