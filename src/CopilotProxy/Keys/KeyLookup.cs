using System.Collections.Concurrent;

namespace CopilotProxy.Keys;

/// <summary>
/// Finds the virtual key behind a presented key, remembering each for <see cref="Ttl"/> so a busy key costs one database
/// read per interval, not one per request. A key deleted or changed through this replica is forgotten at once; through
/// another replica (shared PostgreSQL) it takes effect within <see cref="Ttl"/>. Unknown keys are not remembered, so a
/// key created on another replica works at once and random guesses cannot fill memory.
/// </summary>
public sealed class KeyLookup(KeyStore store, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (VirtualKey Key, long Until)> _cache = new(StringComparer.Ordinal);

    /// <summary>How long a key read from the database is trusted; zero reads it on every request.</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(5);

    public KeyStore Store => store;

    /// <summary>The key with this hash, or null when none exists; throws the database's exception when it cannot be read.</summary>
    public async ValueTask<VirtualKey?> FindAsync(string token, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(token, out var cached) && now < cached.Until)
        {
            return cached.Key;
        }

        var key = await store.FindAsync(token, cancellationToken);
        if (key is null)
        {
            _cache.TryRemove(token, out _);
        }
        else if (Ttl > TimeSpan.Zero)
        {
            _cache[token] = (key, now + (long)(Ttl.TotalSeconds * time.TimestampFrequency));
        }

        return key;
    }

    public void Forget(string token) => _cache.TryRemove(token, out _);
}
