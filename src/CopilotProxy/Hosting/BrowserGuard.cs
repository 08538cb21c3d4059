using System.Net;
using CopilotProxy.Configuration;
using CopilotProxy.Keys;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace CopilotProxy.Hosting;

/// <summary>
/// What a web page may do with the proxy, decided as Ollama decides it, on both front doors. A browser names the page
/// behind each request in its Origin header: the local origins every Ollama allows (localhost, 127.0.0.1 and 0.0.0.0 on
/// any port, app://, file://, tauri://, VS Code's webviews) and those in OLLAMA_ORIGINS are granted CORS; any other gets
/// 403, so a site a person happens to visit can neither read their models' answers nor spend their GPU with a form post.
/// While the proxy listens on loopback only, the Host header must also name this machine: a page whose own name was
/// re-pointed at 127.0.0.1 (DNS rebinding) is same-origin with the proxy, and only its Host gives it away.
/// </summary>
/// <remarks>
/// Requests without an Origin (every SDK, Copilot, curl) pass untouched. The dashboard (/ui) answers its own page only:
/// its reads get no CORS grant even for a local origin, and its actions check the origin themselves.
/// </remarks>
internal sealed class BrowserGuard
{
    private static readonly string[] LocalOrigins =
    [
        "http://localhost", "https://localhost", "http://localhost:*", "https://localhost:*",
        "http://127.0.0.1", "https://127.0.0.1", "http://127.0.0.1:*", "https://127.0.0.1:*",
        "http://0.0.0.0", "https://0.0.0.0", "http://0.0.0.0:*", "https://0.0.0.0:*",
        "http://[::1]", "http://[::1]:*",
        "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*",
    ];

    private static readonly string[] LocalSuffixes = [".localhost", ".local", ".internal"];

    private readonly string[][] _origins;
    private readonly bool _loopbackOnly;
    private readonly string _host;
    // Both of this machine's names, read once: Environment.MachineName (the name up to its first dot) asks the kernel on
    // every read, and this check runs on every request.
    private readonly string[] _machineNames = [Dns.GetHostName(), Environment.MachineName];
    private readonly ILogger _logger;
    private int _hostRefused;
    private int _originRefused;

    public BrowserGuard(ProxySettings settings, ILogger logger)
    {
        _host = settings.Host;
        _logger = logger;
        _origins = new string[settings.OllamaOrigins.Count + LocalOrigins.Length][];
        for (var i = 0; i < _origins.Length; i++)
        {
            _origins[i] = (i < settings.OllamaOrigins.Count ? settings.OllamaOrigins[i] : LocalOrigins[i - settings.OllamaOrigins.Count]).Split('*');
        }

        _loopbackOnly = settings.BindAddress is not { } address || IPAddress.IsLoopback(address);
    }

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var host = request.Host.Host;
        if (_loopbackOnly && !IsThisMachine(host))
        {
            return RefuseAsync(context, ref _hostRefused, "host_not_allowed",
                $"This proxy listens on {_host} and answers requests addressed to this machine only (localhost, an IP address, "
                + $"'{_machineNames[0]}', or a .localhost, .local or .internal name), not to '{host}': a web page whose name was pointed at "
                + $"127.0.0.1 would send that. Call it as http://localhost:{context.Connection.LocalPort}, or set HOST=0.0.0.0 to answer every name.");
        }

        var origin = request.Headers[HeaderNames.Origin].ToString();
        if (origin.Length == 0 || IsSameOrigin(origin, request.Host.Value ?? string.Empty))
        {
            return next(context);
        }

        if (!IsAllowed(origin))
        {
            return RefuseAsync(context, ref _originRefused, "origin_not_allowed",
                $"A web page from {origin} may not call this proxy. Pages from localhost, 127.0.0.1 and VS Code may; add this origin to "
                + "OLLAMA_ORIGINS (comma-separated, * for every site), as with Ollama.");
        }

        if (request.Path.StartsWithSegments("/ui"))
        {
            return next(context);
        }

        var headers = context.Response.Headers;
        headers[HeaderNames.AccessControlAllowOrigin] = origin;
        headers[HeaderNames.Vary] = HeaderNames.Origin;
        if (!HttpMethods.IsOptions(request.Method) || request.Headers[HeaderNames.AccessControlRequestMethod].Count == 0)
        {
            return next(context);
        }

        // A preflight: answered here, before the key check, since a browser never sends credentials with one.
        headers[HeaderNames.AccessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";
        headers[HeaderNames.AccessControlAllowHeaders] = request.Headers[HeaderNames.AccessControlRequestHeaders];
        headers[HeaderNames.AccessControlMaxAge] = "7200";
        if (request.Headers["Access-Control-Request-Private-Network"] == "true")
        {
            // Chrome asks this of a public site's page calling a local address (Private Network Access).
            headers["Access-Control-Allow-Private-Network"] = "true";
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    private Task RefuseAsync(HttpContext context, ref int said, string code, string reason)
    {
        // Copilot reads a 403 as an expired GitHub token and never shows the body, so the log has to say why, once.
        if (Interlocked.Exchange(ref said, 1) == 0)
        {
            StartupLog.BrowserRefused(_logger, reason);
        }

        return KeyErrors.WriteAsync(context, StatusCodes.Status403Forbidden, reason, code);
    }

    private bool IsThisMachine(string host)
    {
        if (host.Length == 0 || host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(host.AsSpan().Trim("[]"), out _))
        {
            return true;
        }

        foreach (var name in _machineNames)
        {
            if (host.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        foreach (var suffix in LocalSuffixes)
        {
            if (host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private bool IsAllowed(string origin)
    {
        foreach (var pattern in _origins)
        {
            if (Matches(pattern, origin))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsSameOrigin(string origin, string host) =>
        (origin.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && origin.AsSpan(7).Equals(host, StringComparison.OrdinalIgnoreCase))
        || (origin.StartsWith("https://", StringComparison.OrdinalIgnoreCase) && origin.AsSpan(8).Equals(host, StringComparison.OrdinalIgnoreCase));

    /// <summary>A pattern split at its <c>*</c>s: the parts appear in the origin in order, the first at its start and the last at its end.</summary>
    private static bool Matches(string[] parts, string origin)
    {
        if (parts.Length == 1)
        {
            return parts[0].Equals(origin, StringComparison.OrdinalIgnoreCase);
        }

        if (!origin.StartsWith(parts[0], StringComparison.OrdinalIgnoreCase) || !origin.EndsWith(parts[^1], StringComparison.OrdinalIgnoreCase)
            || origin.Length < parts[0].Length + parts[^1].Length)
        {
            return false;
        }

        var at = parts[0].Length;
        var end = origin.Length - parts[^1].Length;
        for (var i = 1; i < parts.Length - 1; i++)
        {
            var found = origin.AsSpan(at, end - at).IndexOf(parts[i], StringComparison.OrdinalIgnoreCase);
            if (found < 0)
            {
                return false;
            }

            at += found + parts[i].Length;
        }

        return true;
    }
}
