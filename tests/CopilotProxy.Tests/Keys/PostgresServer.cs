using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Npgsql;

namespace CopilotProxy.Tests.Keys;

/// <summary>
/// A real PostgreSQL server (Debian's <c>postgresql</c> package), started once per test run on a free loopback port in a
/// temporary folder, as the <c>postgres</c> user when the tests run as root (PostgreSQL refuses to run as root). Each
/// test gets its own database. Tests skip, saying why, only where the package is not installed.
/// </summary>
internal static class PostgresServer
{
    private static readonly Lazy<Task<string>> Server = new(StartAsync);

    /// <summary>The connection string of a new, empty database.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        if (BinDirectory() is null)
        {
            Assert.Skip("PostgreSQL is not installed here (apt-get install -y postgresql); .ci/run installs it.");
        }

        var admin = await Server.Value;
        var name = "keys_" + Guid.NewGuid().ToString("n")[..12];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    private static string? BinDirectory() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "pg_ctl"))).Order().LastOrDefault()
            : null;

    private static async Task<string> StartAsync()
    {
        var bin = BinDirectory()!;
        var root = Path.Combine(Path.GetTempPath(), "copilot-proxy-pg-" + Guid.NewGuid().ToString("n")[..8]);
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(root);
        var asRoot = Environment.UserName == "root";
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        // TLS on, with a self-signed certificate, as a managed PostgreSQL has it: sslmode=require must connect.
        var (certificate, key) = (Path.Combine(root, "server.crt"), Path.Combine(root, "server.key"));
        WriteSelfSignedCertificate(certificate, key);
        if (asRoot)
        {
            await RunAsync("chown", ["-R", "postgres", root]);
        }

        await RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", "proxy", "--auth=trust", "-E", "UTF8", "--no-sync"], asRoot);
        await RunAsync(Path.Combine(bin, "pg_ctl"),
            ["-D", data, "-l", Path.Combine(root, "server.log"), "-w", "-o",
             $"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on -c ssl_cert_file={certificate} -c ssl_key_file={key}", "start"], asRoot);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            RunAsync(Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"], asRoot).GetAwaiter().GetResult();
        return $"Host=127.0.0.1;Port={port};Username=proxy;Database=postgres;Pooling=true";
    }

    private static void WriteSelfSignedCertificate(string certificatePath, string keyPath)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, rsa.ExportPkcs8PrivateKeyPem());
        // PostgreSQL refuses a key file that others can read.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static async Task RunAsync(string file, string[] arguments, bool asPostgres = false)
    {
        var start = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (asPostgres)
        {
            foreach (var argument in (string[])["-u", "postgres", "--", file])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stdout}{await stderr}");
        }
    }
}
