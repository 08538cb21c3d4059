using System.IO.Compression;
using System.Security.Cryptography;

namespace CopilotProxy.Dashboard;

/// <summary>One file of the page, embedded in the binary: its bytes, a gzip copy made once, and an ETag from its content.</summary>
public sealed record DashboardAsset(string Name, string ContentType, byte[] Raw, byte[] Gzip, string ETag);

/// <summary>
/// The page's files, read from the assembly's manifest resources (AOT-safe: no file system, no reflection over types),
/// so the dashboard works offline and ships inside the one binary.
/// </summary>
public static class DashboardAssets
{
    private static readonly Lazy<Dictionary<string, DashboardAsset>> All = new(Load);

    public static DashboardAsset? Find(string name) => All.Value.GetValueOrDefault(name);

    private static Dictionary<string, DashboardAsset> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var assets = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith("dashboard/", StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var raw = copy.ToArray();
            var name = resource["dashboard/".Length..];
            assets[name] = new DashboardAsset(name, ContentTypeOf(name), raw, Compress(raw), "\"" + Convert.ToHexStringLower(SHA256.HashData(raw).AsSpan(0, 8)) + "\"");
        }

        return assets;
    }

    private static byte[] Compress(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize))
        {
            gzip.Write(raw);
        }

        return output.ToArray();
    }

    private static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
