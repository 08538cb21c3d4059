using Npgsql;

namespace CopilotProxy.Configuration;

/// <summary>
/// DATABASE_URL in either form people copy from elsewhere: LiteLLM's URI (<c>postgresql://user:password@host:port/db</c>)
/// or Npgsql's own connection string (<c>Host=…;Username=…</c>). Both become an Npgsql connection string.
/// </summary>
public static class DatabaseUrl
{
    public const string Example = "postgresql://proxy:secret@127.0.0.1:5432/proxy";

    /// <summary>The Npgsql connection string, or null with <paramref name="error"/> saying what is wrong.</summary>
    public static string? ToConnectionString(string value, out string? error)
    {
        error = null;
        try
        {
            if (value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
            {
                return FromUri(new Uri(value), out error);
            }

            if (value.Contains('=', StringComparison.Ordinal))
            {
                var builder = new NpgsqlConnectionStringBuilder(value);
                if (string.IsNullOrEmpty(builder.Host))
                {
                    error = "the connection string names no Host";
                    return null;
                }

                return builder.ConnectionString;
            }
        }
        catch (Exception ex) when (ex is UriFormatException or ArgumentException or FormatException or KeyNotFoundException)
        {
            error = ex.Message;
            return null;
        }

        error = "expected a PostgreSQL URI or an Npgsql connection string";
        return null;
    }

    /// <summary>The server and database, without the password, for log lines and the dashboard.</summary>
    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
    }

    private static string? FromUri(Uri uri, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(uri.Host))
        {
            error = "the URI names no host";
            return null;
        }

        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host, Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(userInfo[0]);
        }

        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }

        var database = uri.AbsolutePath.Trim('/');
        if (database.Length > 0)
        {
            builder.Database = Uri.UnescapeDataString(database);
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (name, text) = pair.Split('=', 2) is [var n, var v] ? (Uri.UnescapeDataString(n), Uri.UnescapeDataString(v)) : (pair, "");
            switch (name.ToLowerInvariant())
            {
                case "sslmode":
                    builder.SslMode = Enum.Parse<SslMode>(text, ignoreCase: true);
                    break;
                case "connect_timeout":
                    builder.Timeout = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "application_name":
                    builder.ApplicationName = text;
                    break;
                default:
                    error = $"the URI parameter '{name}' is not supported (sslmode, connect_timeout and application_name are)";
                    return null;
            }
        }

        return builder.ConnectionString;
    }
}
