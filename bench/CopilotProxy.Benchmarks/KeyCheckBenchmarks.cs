using BenchmarkDotNet.Attributes;
using CopilotProxy.Configuration;
using CopilotProxy.Keys;

namespace CopilotProxy.Benchmarks;

/// <summary>
/// What a virtual key adds to each request before it goes upstream: hashing the presented key (the baseline: the master
/// key check hashes too), finding it (cached for 5 s, or read from the database every time), and for a key with
/// rpm_limit/tpm_limit the atomic per-minute counter upsert, which is never cached. SQLite always; PostgreSQL when
/// BENCH_DATABASE_URL names one (bench/keys.sh starts a throwaway server).
/// </summary>
[MemoryDiagnoser]
public class KeyCheckBenchmarks
{
    private const string PresentedKey = "sk-benchmark-key-0123456789abcdefghijklmnopqrstuvwxyz";

    private readonly string _presented = PresentedKey;
    private KeyDatabase _database = null!;
    private KeyStore _store = null!;
    private KeyLookup _cached = null!;
    private KeyLookup _uncached = null!;
    private string _token = null!;
    private string _dataDir = null!;

    [Params("sqlite", "postgres")]
    public string Database { get; set; } = "sqlite";

    [GlobalSetup]
    public async Task Setup()
    {
        _dataDir = Path.Combine(Path.GetTempPath(), "copilot-proxy-bench-" + Guid.NewGuid().ToString("n"));
        var url = Environment.GetEnvironmentVariable("BENCH_DATABASE_URL");
        if (Database == "postgres" && string.IsNullOrEmpty(url))
        {
            throw new InvalidOperationException("Set BENCH_DATABASE_URL (bench/keys.sh does), or run with --filter '*' --anyCategories and Database=sqlite only.");
        }

        var settings = new ProxySettings { DataDir = _dataDir, DatabaseUrl = Database == "postgres" ? url : null };
        _database = KeyDatabase.Open(settings, GatewayConfig.Empty);
        _store = new KeyStore(_database);
        _token = KeyTokens.Hash(PresentedKey);
        await _store.DeleteAsync([_token], CancellationToken.None);
        await _store.InsertAsync(new VirtualKey { Token = _token, KeyName = KeyTokens.DisplayName(PresentedKey), KeyAlias = "bench", RpmLimit = long.MaxValue - 1, CreatedAt = DateTimeOffset.UtcNow }, CancellationToken.None);
        _cached = new KeyLookup(_store, TimeProvider.System);
        _uncached = new KeyLookup(_store, TimeProvider.System) { Ttl = TimeSpan.Zero };
        await _cached.FindAsync(_token, CancellationToken.None);
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _store.DeleteAsync([_token], CancellationToken.None);
        await _database.DisposeAsync();
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }

    /// <summary>The master key's cost: one SHA-256 of the presented key.</summary>
    [Benchmark(Baseline = true)]
    public string HashOnly() => KeyTokens.Hash(_presented);

    [Benchmark]
    public async Task<VirtualKey?> LookupCached() => await _cached.FindAsync(KeyTokens.Hash(_presented), CancellationToken.None);

    [Benchmark]
    public async Task<VirtualKey?> LookupUncached() => await _uncached.FindAsync(KeyTokens.Hash(_presented), CancellationToken.None);

    /// <summary>A key with rpm_limit: the cached lookup plus the per-minute counter upsert.</summary>
    [Benchmark]
    public async Task<bool> LookupCachedWithRpmCounter()
    {
        var key = await _cached.FindAsync(KeyTokens.Hash(_presented), CancellationToken.None);
        var (admitted, _) = await _store.TakeRequestAsync(key!.Token, DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 60, key.RpmLimit, key.TpmLimit, CancellationToken.None);
        return admitted;
    }
}
