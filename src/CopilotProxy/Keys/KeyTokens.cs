using System.Security.Cryptography;
using System.Text;

namespace CopilotProxy.Keys;

/// <summary>Virtual keys as LiteLLM writes them (<c>sk-</c> and random characters), and the SHA-256 the database keeps instead of the key.</summary>
internal static class KeyTokens
{
    public const string Prefix = "sk-";

    /// <summary>A new key: 32 random bytes, URL-safe base64, so it survives headers, shells and .env files unquoted.</summary>
    public static string Generate()
    {
        Span<byte> random = stackalloc byte[32];
        RandomNumberGenerator.Fill(random);
        return Prefix + Convert.ToBase64String(random).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The stored form of a key: lowercase hex SHA-256 of its UTF-8 bytes (LiteLLM's "token").</summary>
    public static string Hash(string key)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>LiteLLM's key_name: enough of the key to recognise it in a list, never enough to use it.</summary>
    public static string DisplayName(string key) => key.Length > 8 ? $"{Prefix}...{key[^4..]}" : Prefix + "...";

    /// <summary>Routes take either the key or its hash, as LiteLLM's do; a hash is 64 lowercase hex characters.</summary>
    public static string TokenOf(string keyOrToken) =>
        keyOrToken.Length == 64 && keyOrToken.All(char.IsAsciiHexDigitLower) ? keyOrToken : Hash(keyOrToken);
}
