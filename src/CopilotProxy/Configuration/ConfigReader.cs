using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CopilotProxy.Configuration;

/// <summary>
/// The reader core every section reader shares: scalars (with <c>os.environ/VAR</c> resolved), numbers, booleans,
/// durations, and the error and ignored-key lists, each entry naming the file, the line and the key path.
/// </summary>
/// <remarks>
/// One instance reads one file; the section readers (<see cref="ModelListReader"/>, <see cref="RouterSettingsReader"/>, …)
/// are stateless and take it as their first argument.
/// </remarks>
internal sealed class ConfigReader(string source, Func<string, string?> processEnvironment)
{
    private const string EnvironmentPrefix = "os.environ/";
    private const double MaxSeconds = 86_400;

    /// <summary>Every error found so far, in file order.</summary>
    public List<ConfigError> Errors { get; } = [];

    /// <summary>Keys that are valid LiteLLM but not used here, with the reason; shown by <c>--check-config</c>.</summary>
    public List<ConfigWarning> Ignored { get; } = [];

    /// <summary>The file's own <c>environment_variables</c>, consulted after the process environment.</summary>
    public Dictionary<string, string> ConfigEnvironment { get; set; } = new(StringComparer.Ordinal);

    public static int LineOf(Mark mark) => (int)Math.Min(mark.Line, int.MaxValue);

    public string[]? ReadStringOrList(YamlNode node, string path)
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

    public double? ReadNumber(YamlNode node, string path, double min, double max)
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

    public int? ReadInteger(YamlNode node, string path, int min, int max)
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

    public long? ReadLong(YamlNode node, string path)
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

    public TimeSpan? ReadSeconds(YamlNode node, string path, bool allowZero)
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

    public bool? ReadBool(YamlNode node, string path)
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
    public ScalarText? ReadScalar(YamlNode node, string path, bool processOnly = false)
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
            ConfigEnvironment.TryGetValue(variable, out value);
        }

        if (value is null)
        {
            Error(node, path, $"environment variable {variable} is not set (referenced as \"{raw}\")",
                ConfigErrorKind.MissingEnvironmentVariable);
            return null;
        }

        return new ScalarText(value, variable);
    }

    public YamlMappingNode? ExpectMapping(YamlNode node, string path)
    {
        if (node is YamlMappingNode map)
        {
            return map;
        }

        Error(node, path, $"expected a mapping of keys to values, got {Describe(node)}");
        return null;
    }

    public string? KeyOf(YamlNode keyNode, string parentPath)
    {
        if (keyNode is YamlScalarNode { Value: { } key })
        {
            return key;
        }

        Error(keyNode, parentPath, $"expected a plain key, got {Describe(keyNode)}");
        return null;
    }

    public void Error(YamlNode node, string path, string message, ConfigErrorKind kind = ConfigErrorKind.InvalidValue) =>
        Errors.Add(new ConfigError(kind, source, LineOf(node.Start), path, message));

    public void Ignore(YamlNode keyNode, string path, string reason) =>
        Ignored.Add(new ConfigWarning(path, LineOf(keyNode.Start), reason));

    public static YamlNode? Find(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    public static string Describe(YamlNode node) => node switch
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
internal sealed record ScalarText(string Value, string? Variable)
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
