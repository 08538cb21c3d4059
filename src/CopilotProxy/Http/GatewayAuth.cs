using System.Security.Cryptography;
using System.Text;
using CopilotProxy.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CopilotProxy.Http;

/// <summary>Endpoint metadata: the route needs the gateway key when one is configured.</summary>
public sealed class GatewayKeyRequired
{
    public static GatewayKeyRequired Instance { get; } = new();

    private GatewayKeyRequired()
    {
    }
}

/// <summary>
/// The gateway's master key (<c>API_KEY</c> or <c>general_settings.master_key</c>) and how a client presents a key
/// (<c>Authorization: Bearer</c> or <c>x-api-key</c>). The check itself, master and virtual keys, is Keys/KeyAuth.
/// </summary>
internal static class GatewayAuth
{
    /// <summary>The key in force, read per request so a reloaded config.yaml takes effect; null or empty means the gateway is open.</summary>
    public static string? ConfiguredKey(IServiceProvider services)
    {
        var key = services.GetRequiredService<ProxySettings>().ApiKey ?? services.GetRequiredService<GatewayConfigHolder>().Current.MasterKey;
        return string.IsNullOrEmpty(key) ? null : key;
    }

    public static string? PresentedKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization["Bearer ".Length..].Trim() is { Length: > 0 } bearer)
        {
            return bearer;
        }

        var apiKey = request.Headers["x-api-key"].ToString();
        return apiKey.Length > 0 ? apiKey.Trim() : null;
    }

    /// <summary>Compares hashes in constant time, so neither the content nor the length of the key leaks through timing.</summary>
    public static bool Matches(string? presented, string expected)
    {
        if (presented is null)
        {
            return false;
        }

        Span<byte> a = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> b = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), a);
        SHA256.HashData(Encoding.UTF8.GetBytes(expected), b);
        return CryptographicOperations.FixedTimeEquals(a, b);
    }
}
