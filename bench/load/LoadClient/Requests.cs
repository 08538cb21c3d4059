using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace CopilotProxy.Bench.LoadClient;

internal enum BodyKind
{
    Sse,
    Ndjson,
    Json,
}

/// <summary>One way of sending one request: through which hop (direct, nginx, proxy), to which URL, expecting which framing.</summary>
internal sealed record Target(string Hop, Uri Url, byte[] Body, BodyKind Kind, HttpClient Client);

/// <summary>Times are milliseconds from just before SendAsync; EndTimestamp is a raw Stopwatch timestamp.</summary>
internal readonly record struct Sample(double FirstByteMs, double TotalMs, long EndTimestamp);

/// <summary>Counts failures, grouped by message, so a failed run says why without repeating one line a thousand times.</summary>
internal sealed class ErrorLog
{
    private const int DistinctMessages = 30;
    private readonly ConcurrentDictionary<string, int> _byMessage = new(StringComparer.Ordinal);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public IEnumerable<string> Messages => _byMessage.OrderByDescending(p => p.Value)
        .Select(p => p.Value == 1 ? p.Key : $"{p.Key} (x{p.Value})");

    public void Add(string where, string message)
    {
        Interlocked.Increment(ref _count);
        var key = $"{where}: {message}";
        if (_byMessage.Count < DistinctMessages || _byMessage.ContainsKey(key))
        {
            _byMessage.AddOrUpdate(key, 1, (_, n) => n + 1);
        }
    }
}

internal static class Requests
{
    private const int TailSize = 256;

    public static byte[] ChatBody(bool stream) => Encoding.UTF8.GetBytes(
        "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello in one word.\"}],\"stream\":"
        + (stream ? "true" : "false") + "}");

    public static HttpClient NewClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>Sends one request and reads the whole body; returns null (and logs) on any failure.</summary>
    public static async Task<Sample?> RunOne(Target target, ErrorLog errors, CancellationToken ct = default)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var tail = ArrayPool<byte>.Shared.Rent(TailSize);
        var start = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, target.Url)
            {
                Content = new ByteArrayContent(target.Body),
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await target.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                errors.Add(target.Hop + " " + target.Url.AbsolutePath, $"HTTP {(int)response.StatusCode}");
                return null;
            }

            await using var body = await response.Content.ReadAsStreamAsync(ct);
            long first = 0;
            var tailLength = 0;
            int read;
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
            {
                if (first == 0)
                {
                    first = Stopwatch.GetTimestamp();
                }

                tailLength = AppendTail(tail, tailLength, buffer.AsSpan(0, read));
            }

            var end = Stopwatch.GetTimestamp();
            if (first == 0 || !IsComplete(target.Kind, tail.AsSpan(0, tailLength)))
            {
                errors.Add(
                    target.Hop + " " + target.Url.AbsolutePath,
                    "incomplete body, ends with: " + Encoding.UTF8.GetString(tail, 0, tailLength).Trim());
                return null;
            }

            return new Sample(
                Stopwatch.GetElapsedTime(start, first).TotalMilliseconds,
                Stopwatch.GetElapsedTime(start, end).TotalMilliseconds,
                end);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
        {
            errors.Add(target.Hop + " " + target.Url.AbsolutePath, ex.GetType().Name + ": " + ex.Message);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tail);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int AppendTail(byte[] tail, int length, ReadOnlySpan<byte> chunk)
    {
        if (chunk.Length >= TailSize)
        {
            chunk[^TailSize..].CopyTo(tail);
            return TailSize;
        }

        var keep = Math.Min(length, TailSize - chunk.Length);
        tail.AsSpan(length - keep, keep).CopyTo(tail);
        chunk.CopyTo(tail.AsSpan(keep));
        return keep + chunk.Length;
    }

    // A stream counts only if it reached its protocol's end marker: a cut stream is an error, not a fast response.
    private static bool IsComplete(BodyKind kind, ReadOnlySpan<byte> tail)
    {
        var trimmed = tail.TrimEnd(" \r\n"u8);
        return kind switch
        {
            BodyKind.Sse => trimmed.EndsWith("data: [DONE]"u8),
            BodyKind.Ndjson => trimmed[(trimmed.LastIndexOf((byte)'\n') + 1)..].IndexOf("\"done\":true"u8) >= 0,
            _ => trimmed.EndsWith("}"u8),
        };
    }
}
