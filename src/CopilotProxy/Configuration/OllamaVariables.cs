using System.Net;

namespace CopilotProxy.Configuration;

/// <summary>
/// Ollama's own server variables that someone replacing Ollama may still have set, said at startup when they ask for
/// something else than the proxy does: the proxy reads its own names, and ignoring theirs without a word would be a silent
/// fallback.
/// </summary>
/// <remarks>
/// OLLAMA_HOST is also what Ollama clients (the CLI, ollama-python, ollama-js) read to find the server, so a value that
/// agrees with where the proxy listens says nothing. OLLAMA_CONTEXT_LENGTH is what the Ollama VS Code extension's context
/// warning leads people to set; MIN_CONTEXT_LENGTH is the proxy's equivalent.
/// </remarks>
public static class OllamaVariables
{
    public static IEnumerable<string> Disagreements(Func<string, string?> environment, ProxySettings settings)
    {
        if (Clean(environment("OLLAMA_HOST")) is { Length: > 0 } value && ParseHost(value) is var (host, port)
            && (port != settings.OllamaPort || !SameHost(host, settings.Host)))
        {
            var asked = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";
            yield return $"OLLAMA_HOST is {value}, which asks for {asked}, but this proxy's Ollama front door listens on {settings.Host}:{settings.OllamaPort}: "
                + $"it reads HOST and OLLAMA_PORT, and Ollama clients that read OLLAMA_HOST will not reach it. Set HOST and OLLAMA_PORT, or OLLAMA_HOST={settings.Host}:{settings.OllamaPort}";
        }

        if (Clean(environment("OLLAMA_CONTEXT_LENGTH")) is { Length: > 0 } context
            && (!int.TryParse(context, out var tokens) || tokens != settings.MinContextLength))
        {
            yield return $"OLLAMA_CONTEXT_LENGTH is {context}, which this proxy does not read: it loads models with at least MIN_CONTEXT_LENGTH tokens "
                + $"(now {settings.MinContextLength}). Set MIN_CONTEXT_LENGTH={context} for the same";
        }
    }

    /// <summary>Ollama's own cleaning of a variable's value: quotes and spaces around it are dropped.</summary>
    internal static string Clean(string? value) => value?.Trim().Trim('"', '\'', ' ') ?? string.Empty;

    /// <summary>
    /// Ollama's reading: an optional scheme (http means port 80, https 443), then host[:port] with port 11434 by default;
    /// an empty host with a port (":11434") listens on every interface.
    /// </summary>
    private static (string Host, int Port)? ParseHost(string value)
    {
        var port = 11434;
        if (value.IndexOf("://", StringComparison.Ordinal) is var at and >= 0)
        {
            port = value.StartsWith("https", StringComparison.OrdinalIgnoreCase) ? 443 : 80;
            value = value[(at + 3)..];
        }

        value = value.TrimEnd('/');
        string host;
        string? portText = null;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']');
            if (close < 0 || (close + 1 < value.Length && value[close + 1] != ':'))
            {
                return null;
            }

            host = value[1..close];
            portText = close + 1 < value.Length ? value[(close + 2)..] : null;
        }
        else if (value.IndexOf(':') is var colon and >= 0 && colon == value.LastIndexOf(':'))
        {
            host = value[..colon].Length == 0 ? "0.0.0.0" : value[..colon];
            portText = value[(colon + 1)..];
        }
        else
        {
            host = value;
        }

        if (portText is not null && (!int.TryParse(portText, out port) || port is < 0 or > 65535))
        {
            return null;
        }

        return (host, port);
    }

    private static bool SameHost(string a, string b) =>
        string.Equals(a, b, StringComparison.OrdinalIgnoreCase) || (IsLoopback(a) && IsLoopback(b));

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}
