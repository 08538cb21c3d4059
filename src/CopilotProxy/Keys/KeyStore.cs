using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using CopilotProxy.Keys.Wire;

namespace CopilotProxy.Keys;

/// <summary>A usage record ready for the database: one key's requests and tokens on one UTC day, summed over a batch.</summary>
public readonly record struct UsageDelta(string Token, long Day, long Minute, long Requests, long PromptTokens, long CompletionTokens);

/// <summary>
/// The virtual keys, their usage and their rate-limit windows, in SQLite or PostgreSQL through the same SQL. Every call
/// opens a pooled connection, so the store is safe to share; a database that is down surfaces as <see cref="DbException"/>.
/// </summary>
public sealed class KeyStore(KeyDatabase database)
{
    private const string Columns = "token, key_name, key_alias, models, rpm_limit, tpm_limit, max_parallel_requests, max_budget_tokens, expires_at, metadata, created_at, spent_tokens";

    public KeyDatabase Database => database;

    /// <summary>Adds a key; false when its alias belongs to another key already.</summary>
    public async Task<bool> InsertAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (key.KeyAlias is { } alias && await AliasTakenAsync(connection, transaction, alias, key.Token, cancellationToken))
        {
            return false;
        }

        await using var insert = Bind(connection.Command($"INSERT INTO virtual_keys ({Columns}) VALUES (@token, @name, @alias, @models, @rpm, @tpm, @parallel, @budget, @expires, @metadata, @created, 0)", transaction), key);
        await insert.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Replaces a key's settings; false when the alias belongs to another key.</summary>
    public async Task<bool> UpdateAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (key.KeyAlias is { } alias && await AliasTakenAsync(connection, transaction, alias, key.Token, cancellationToken))
        {
            return false;
        }

        await using var update = Bind(connection.Command(
            "UPDATE virtual_keys SET key_alias = @alias, models = @models, rpm_limit = @rpm, tpm_limit = @tpm, max_parallel_requests = @parallel, " +
            "max_budget_tokens = @budget, expires_at = @expires, metadata = @metadata WHERE token = @token", transaction), key);
        await update.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<VirtualKey?> FindAsync(string token, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.Command($"SELECT {Columns} FROM virtual_keys WHERE token = @token").With("@token", token);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Deletes keys and their usage; returns the tokens that existed.</summary>
    public async Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<string> tokens, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var deleted = new List<string>();
        foreach (var token in tokens.Distinct(StringComparer.Ordinal))
        {
            await using var delete = connection.Command("DELETE FROM virtual_keys WHERE token = @token", transaction).With("@token", token);
            if (await delete.ExecuteNonQueryAsync(cancellationToken) > 0)
            {
                deleted.Add(token);
            }

            foreach (var table in (string[])["key_usage", "key_windows"])
            {
                await using var clear = connection.Command($"DELETE FROM {table} WHERE token = @token", transaction).With("@token", token);
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    /// <summary>One page of keys, newest first, and how many there are.</summary>
    public async Task<(IReadOnlyList<VirtualKey> Keys, long Total)> ListAsync(int offset, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        long total;
        await using (var count = connection.Command("SELECT COUNT(*) FROM virtual_keys"))
        {
            total = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }

        await using var command = connection.Command($"SELECT {Columns} FROM virtual_keys ORDER BY created_at DESC, token LIMIT @limit OFFSET @offset")
            .With("@limit", (long)limit).With("@offset", (long)offset);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<VirtualKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }

        return (keys, total);
    }

    /// <summary>A key's usage over its lifetime and on <paramref name="today"/> (days since 1970-01-01, UTC).</summary>
    public async Task<(KeyUsage AllTime, KeyUsage Today)> UsageAsync(string token, long today, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), " +
            "COALESCE(SUM(CASE WHEN day = @today THEN requests ELSE 0 END), 0), COALESCE(SUM(CASE WHEN day = @today THEN prompt_tokens ELSE 0 END), 0), " +
            "COALESCE(SUM(CASE WHEN day = @today THEN completion_tokens ELSE 0 END), 0) FROM key_usage WHERE token = @token")
            .With("@token", token).With("@today", today);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (new KeyUsage(Long(reader, 0), Long(reader, 1), Long(reader, 2)), new KeyUsage(Long(reader, 3), Long(reader, 4), Long(reader, 5)));
    }

    /// <summary>
    /// Counts one request in the key's minute when it is under both limits: one atomic upsert, so replicas sharing a
    /// PostgreSQL server share the count. Refused requests are not counted. Returns the window as it stands.
    /// </summary>
    public async Task<(bool Admitted, KeyWindow Window)> TakeRequestAsync(string token, long minute, long? rpm, long? tpm, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var take = connection.Command(
            NoFlushWait +
            "INSERT INTO key_windows (token, window_start, requests, tokens) VALUES (@token, @minute, 1, 0) " +
            "ON CONFLICT (token, window_start) DO UPDATE SET requests = key_windows.requests + 1 " +
            "WHERE key_windows.requests < @rpm AND key_windows.tokens < @tpm RETURNING requests, tokens", transaction)
            .With("@token", token).With("@minute", minute).With("@rpm", rpm ?? long.MaxValue).With("@tpm", tpm ?? long.MaxValue))
        {
            KeyWindow? taken = null;
            await using (var reader = await take.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    taken = new KeyWindow(Long(reader, 0), Long(reader, 1));
                }
            }

            if (taken is { } window)
            {
                await transaction.CommitAsync(cancellationToken);
                return (true, window);
            }
        }

        await using var read = connection.Command("SELECT requests, tokens FROM key_windows WHERE token = @token AND window_start = @minute", transaction)
            .With("@token", token).With("@minute", minute);
        KeyWindow current = default;
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                current = new KeyWindow(Long(reader, 0), Long(reader, 1));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return (false, current);
    }

    /// <summary>
    /// PostgreSQL only: commit without waiting for the WAL flush. A crash may forget the last fraction of a second of
    /// counts and usage (a request or two more allowed, a batch of usage lost, as a crash loses anyway), never corrupt;
    /// in exchange a counter costs a round trip, not a disk flush (bench/keys.sh: about 6 ms to under 1 ms).
    /// </summary>
    private string NoFlushWait => database.IsPostgres ? "SET LOCAL synchronous_commit TO OFF; " : string.Empty;

    /// <summary>Adds a batch of usage in one transaction: daily totals, the key's spent tokens, and its minute's tokens for tpm_limit.</summary>
    public async Task AddUsageAsync(IReadOnlyList<UsageDelta> batch, long pruneBeforeMinute, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (database.IsPostgres)
        {
            await using var noWait = connection.Command(NoFlushWait, transaction);
            await noWait.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var delta in batch)
        {
            var tokens = delta.PromptTokens + delta.CompletionTokens;
            await using (var usage = connection.Command(
                "INSERT INTO key_usage (token, day, requests, prompt_tokens, completion_tokens) VALUES (@token, @day, @requests, @prompt, @completion) " +
                "ON CONFLICT (token, day) DO UPDATE SET requests = key_usage.requests + excluded.requests, " +
                "prompt_tokens = key_usage.prompt_tokens + excluded.prompt_tokens, completion_tokens = key_usage.completion_tokens + excluded.completion_tokens", transaction)
                .With("@token", delta.Token).With("@day", delta.Day).With("@requests", delta.Requests).With("@prompt", delta.PromptTokens).With("@completion", delta.CompletionTokens))
            {
                await usage.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var spent = connection.Command("UPDATE virtual_keys SET spent_tokens = spent_tokens + @tokens WHERE token = @token", transaction)
                .With("@tokens", tokens).With("@token", delta.Token))
            {
                await spent.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var window = connection.Command(
                "INSERT INTO key_windows (token, window_start, requests, tokens) VALUES (@token, @minute, 0, @tokens) " +
                "ON CONFLICT (token, window_start) DO UPDATE SET tokens = key_windows.tokens + excluded.tokens", transaction)
                .With("@token", delta.Token).With("@minute", delta.Minute).With("@tokens", tokens);
            await window.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var prune = connection.Command("DELETE FROM key_windows WHERE window_start < @before", transaction).With("@before", pruneBeforeMinute))
        {
            await prune.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await database.EnsureMigratedAsync().WaitAsync(cancellationToken);
        return await database.OpenAsync(cancellationToken);
    }

    private static async Task<bool> AliasTakenAsync(DbConnection connection, DbTransaction transaction, string alias, string token, CancellationToken cancellationToken)
    {
        await using var command = connection.Command("SELECT COUNT(*) FROM virtual_keys WHERE key_alias = @alias AND token <> @token", transaction)
            .With("@alias", alias).With("@token", token);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0;
    }

    private static DbCommand Bind(DbCommand command, VirtualKey key) => command
        .With("@token", key.Token).With("@name", key.KeyName).With("@alias", key.KeyAlias)
        .With("@models", JsonSerializer.Serialize(key.Models.ToList(), KeyStoreJsonContext.Default.ListString))
        .With("@rpm", key.RpmLimit).With("@tpm", key.TpmLimit).With("@parallel", key.MaxParallelRequests).With("@budget", key.MaxBudgetTokens)
        .With("@expires", key.ExpiresAt?.ToUnixTimeMilliseconds()).With("@metadata", key.Metadata).With("@created", key.CreatedAt.ToUnixTimeMilliseconds());

    private static VirtualKey Read(DbDataReader reader) => new()
    {
        Token = reader.GetString(0),
        KeyName = reader.GetString(1),
        KeyAlias = reader.IsDBNull(2) ? null : reader.GetString(2),
        Models = JsonSerializer.Deserialize(reader.GetString(3), KeyStoreJsonContext.Default.ListString) ?? [],
        RpmLimit = NullableLong(reader, 4),
        TpmLimit = NullableLong(reader, 5),
        MaxParallelRequests = NullableLong(reader, 6) is { } parallel ? (int)parallel : null,
        MaxBudgetTokens = NullableLong(reader, 7),
        ExpiresAt = NullableLong(reader, 8) is { } expires ? DateTimeOffset.FromUnixTimeMilliseconds(expires) : null,
        Metadata = reader.IsDBNull(9) ? null : reader.GetString(9),
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(reader, 10)),
        SpentTokens = Long(reader, 11),
    };

    private static long Long(DbDataReader reader, int ordinal) => Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    private static long? NullableLong(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Long(reader, ordinal);
}
