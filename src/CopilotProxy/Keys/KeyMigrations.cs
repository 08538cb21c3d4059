using System.Data.Common;

namespace CopilotProxy.Keys;

/// <summary>
/// The key schema, as numbered steps applied in order at start. Each step runs once per database, recorded in
/// <c>schema_migrations</c>; replicas starting together serialise on a lock (PostgreSQL advisory lock, SQLite's write
/// lock), so running them again is a no-op. A new schema change is a new step at the end, never an edit of an old one.
/// </summary>
internal static class KeyMigrations
{
    /// <summary>Any number both PostgreSQL sessions agree on: the advisory lock that serialises replicas' migrations.</summary>
    private const long LockId = 0x6b657973; // "keys"

    internal static readonly IReadOnlyList<(int Version, string Sql)> Steps =
    [
        (1, """
            CREATE TABLE virtual_keys (
                token TEXT PRIMARY KEY,
                key_name TEXT NOT NULL,
                key_alias TEXT UNIQUE,
                models TEXT NOT NULL,
                rpm_limit BIGINT,
                tpm_limit BIGINT,
                max_parallel_requests INTEGER,
                max_budget_tokens BIGINT,
                expires_at BIGINT,
                metadata TEXT,
                created_at BIGINT NOT NULL,
                spent_tokens BIGINT NOT NULL DEFAULT 0);
            CREATE TABLE key_usage (
                token TEXT NOT NULL,
                day INTEGER NOT NULL,
                requests BIGINT NOT NULL,
                prompt_tokens BIGINT NOT NULL,
                completion_tokens BIGINT NOT NULL,
                PRIMARY KEY (token, day));
            CREATE TABLE key_windows (
                token TEXT NOT NULL,
                window_start BIGINT NOT NULL,
                requests BIGINT NOT NULL,
                tokens BIGINT NOT NULL,
                PRIMARY KEY (token, window_start));
            """),
    ];

    public static int LatestVersion => Steps[^1].Version;

    public static async Task ApplyAsync(KeyDatabase database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await BeginLockedAsync(connection, database.IsPostgres, cancellationToken);
        await using (var create = connection.Command("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)", transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        long applied;
        await using (var read = connection.Command("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", transaction))
        {
            applied = Convert.ToInt64(await read.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        if (applied > LatestVersion)
        {
            throw new InvalidOperationException(
                $"The key database {database.Description} has schema version {applied}, newer than this proxy's {LatestVersion}: it was written by a newer release. Run that release, or restore a backup.");
        }

        foreach (var (version, sql) in Steps.Where(s => s.Version > applied))
        {
            await using (var step = connection.Command(sql, transaction))
            {
                await step.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var record = connection.Command("INSERT INTO schema_migrations (version, applied_at) VALUES (@v, @at)", transaction)
                .With("@v", version).With("@at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task<DbTransaction> BeginLockedAsync(DbConnection connection, bool isPostgres, CancellationToken cancellationToken)
    {
        // Microsoft.Data.Sqlite begins with BEGIN IMMEDIATE: the write lock is taken now, so a second process waits
        // instead of failing half-way.
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!isPostgres)
        {
            return transaction;
        }

        await using var lockCommand = connection.Command("SELECT pg_advisory_xact_lock(@id)", transaction).With("@id", LockId);
        await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        return transaction;
    }
}
