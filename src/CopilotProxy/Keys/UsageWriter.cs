using System.Threading.Channels;
using CopilotProxy.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Keys;

/// <summary>
/// Writes key usage off the request path: each finished request drops one record in a channel; this service sums them
/// per key, day and minute and commits the sums in one transaction every <see cref="FlushInterval"/>. A crash loses what
/// arrived since the last commit (at most one interval of usage); while the database is down the sums are kept (one
/// row per key and minute, so memory stays small) and written when it is back. Shutdown writes the last batch.
/// </summary>
public sealed class UsageWriter(KeyStore store, TeamMetrics metrics, TimeProvider time, ILogger<UsageWriter> logger) : BackgroundService
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>Rate-limit windows older than this are pruned with each batch.</summary>
    private const long KeptMinutes = 60;

    private readonly Channel<UsageDelta> _records = Channel.CreateUnbounded<UsageDelta>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<(string Token, long Day, long Minute), UsageDelta> _pending = [];

    /// <summary>Counts one finished request of <paramref name="caller"/>; never blocks and never touches the database.</summary>
    public void Record(KeyCaller caller, int? promptTokens, int? completionTokens)
    {
        long prompt = promptTokens ?? 0, completion = completionTokens ?? 0;
        metrics.RecordKeyRequest(caller.Label, prompt, completion);
        if (caller.Key is { } key)
        {
            var now = time.GetUtcNow().ToUnixTimeSeconds();
            _records.Writer.TryWrite(new UsageDelta(key.Token, now / 86_400, now / 60, 1, prompt, completion));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _records.Reader.WaitToReadAsync(stoppingToken))
            {
                await Task.Delay(FlushInterval, time, stoppingToken);
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: StopAsync writes what is left.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (_records.Reader.TryRead(out var record))
        {
            var slot = (record.Token, record.Day, record.Minute);
            _pending[slot] = _pending.TryGetValue(slot, out var sum)
                ? sum with { Requests = sum.Requests + record.Requests, PromptTokens = sum.PromptTokens + record.PromptTokens, CompletionTokens = sum.CompletionTokens + record.CompletionTokens }
                : record;
        }

        if (_pending.Count == 0)
        {
            return;
        }

        try
        {
            var nowMinute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
            await store.AddUsageAsync([.. _pending.Values], nowMinute - KeptMinutes, cancellationToken);
            _pending.Clear();
        }
        catch (Exception ex) when (KeyDatabaseFailure.IsUnavailable(ex))
        {
            KeysLog.UsageNotWritten(logger, _pending.Count, store.Database.Description, ex.Message);
        }
    }
}
