using System.Data.Common;
using CopilotProxy.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace CopilotProxy.Keys;

/// <summary>
/// Where virtual keys live: a PostgreSQL server when DATABASE_URL (or <c>general_settings.database_url</c>) names one,
/// shared by every replica; otherwise a SQLite file in DATA_DIR. One SQL dialect serves both (ON CONFLICT upserts,
/// RETURNING, BIGINT unix milliseconds for times), so the store has one code path.
/// </summary>
public sealed class KeyDatabase : IAsyncDisposable
{
    public const string SqliteFileName = "keys.db";

    private readonly object _migrationLock;
    private Lazy<Task> _migrated;

    private KeyDatabase(DbDataSource source, bool isPostgres, string description)
    {
        Source = source;
        IsPostgres = isPostgres;
        Description = description;
        _migrated = new Lazy<Task>(() => KeyMigrations.ApplyAsync(this, CancellationToken.None));
        _migrationLock = new object();
    }

    public DbDataSource Source { get; }

    public bool IsPostgres { get; }

    /// <summary>The file or server, never the password: for log lines, the dashboard and errors.</summary>
    public string Description { get; }

    /// <summary>Opens the database the settings name; nothing touches the disk or the network until the first use.</summary>
    public static KeyDatabase Open(ProxySettings settings, GatewayConfig config)
    {
        if ((settings.DatabaseUrl ?? config.DatabaseUrl) is { } url)
        {
            var connectionString = DatabaseUrl.ToConnectionString(url, out var error)
                ?? throw new InvalidOperationException($"general_settings.database_url is not valid: {error}. Example: {DatabaseUrl.Example}");
            // The slim builder leaves out the type mappings (JSON, ranges, networks) that the key tables never use: smaller and
            // AOT-safe. It also leaves out TLS, which a managed PostgreSQL requires (sslmode=require): without it every
            // connection fails with a message about the builder, not the database.
            var source = new NpgsqlSlimDataSourceBuilder(connectionString).EnableTransportSecurity().Build();
            return new KeyDatabase(source, isPostgres: true, DatabaseUrl.Describe(connectionString));
        }

        var path = Path.Combine(settings.DataDir ?? DefaultDataDir(), SqliteFileName);
        var sqlite = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ConnectionString;
        return new KeyDatabase(SqliteFactory.Instance.CreateDataSource(sqlite), isPostgres: false, path);
    }

    /// <summary><c>/app/data</c> in the container (a volume); the user's local data folder elsewhere (~/.local/share/copilot-proxy on Linux).</summary>
    public static string DefaultDataDir() =>
        string.Equals(Environment.GetEnvironmentVariable("DOTNET_RUNNING_IN_CONTAINER"), "true", StringComparison.OrdinalIgnoreCase)
            ? "/app/data"
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "copilot-proxy");

    /// <summary>Runs the migrations once per process; every store call awaits this first. A failed run is retried at the next call.</summary>
    public Task EnsureMigratedAsync()
    {
        var current = _migrated;
        if (current.Value.IsFaulted || current.Value.IsCanceled)
        {
            lock (_migrationLock)
            {
                if (ReferenceEquals(current, _migrated))
                {
                    _migrated = new Lazy<Task>(() => KeyMigrations.ApplyAsync(this, CancellationToken.None));
                }
            }
        }

        return _migrated.Value;
    }

    /// <summary>An open connection; SQLite's gets its pragmas each time, since they are per connection.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!IsPostgres)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Description)!);
        }

        var connection = await Source.OpenConnectionAsync(cancellationToken);
        if (!IsPostgres)
        {
            await using var pragma = connection.CreateCommand();
            // WAL lets the usage writer commit while requests read keys; NORMAL sync is durable at each checkpoint and
            // loses at most the last commits on power loss, never corrupts.
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }

        return connection;
    }

    public ValueTask DisposeAsync()
    {
        if (!IsPostgres)
        {
            // Pooled SQLite connections hold the file open; a restart in the same process (tests) must see it released.
            SqliteConnection.ClearAllPools();
        }

        return Source.DisposeAsync();
    }
}

/// <summary>Adds parameters by name; both providers take <c>@name</c>.</summary>
internal static class DbCommandExtensions
{
    public static DbCommand With(this DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return command;
    }

    public static DbCommand Command(this DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }
}
