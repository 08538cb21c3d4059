using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using CopilotProxy.Upstream;

namespace CopilotProxy.Tests.Upstream;

/// <summary>
/// When events reach the client: a burst the upstream already delivered leaves in one write, and an event is never kept
/// waiting for the upstream's next one. HttpClient hands a chunked body over a few KB at a time, so a fast upstream's
/// answer arrives as several reads that are all in hand at once; flushing after each one cost a send, a wake-up of the
/// socket's sender and a read by the client per piece (docs/performance.md, issue 25 wave 13).
/// </summary>
public sealed class UpstreamPipelineFlushTests
{
    [Fact]
    public async Task BurstAlreadyInHand_ReachesTheClientInOneFlush()
    {
        // 64 events in four reads, all available at once, as HttpClient returns a fast upstream's 16 KB answer.
        var events = Enumerable.Range(0, 64).Select(i => $"data: {{\"n\":{i}}}\n\n").ToList();
        var reads = Enumerable.Range(0, 4).Select(r => string.Concat(events.Skip(r * 16).Take(16))).Append("data: [DONE]\n\n").ToArray();
        var client = new RecordingWriter();

        var failure = await RunAsync(new ScriptedStream(reads.Select(Ready)), client);

        Assert.Null(failure);
        var flush = Assert.Single(client.Flushes);
        Assert.Equal(string.Concat(events) + "data: [DONE]\n\n", flush);
    }

    [Fact]
    public async Task NextEventNotArrivedYet_WhatIsInHandIsFlushedBeforeTheWait()
    {
        var later = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var client = new RecordingWriter();
        var run = RunAsync(new ScriptedStream([Ready("data: {\"n\":0}\n\ndata: {\"n\":1}\n\n"), later.Task]), client);

        // The upstream has not sent the next event: the two it did send must already be with the client.
        await WaitForAsync(() => client.Flushes.Count == 1);
        Assert.False(run.IsCompleted);
        Assert.Equal("data: {\"n\":0}\n\ndata: {\"n\":1}\n\n", client.Flushes[0]);

        later.SetResult("data: [DONE]\n\n");
        Assert.Null(await run);
        Assert.Equal(["data: {\"n\":0}\n\ndata: {\"n\":1}\n\n", "data: [DONE]\n\n"], client.Flushes);
    }

    [Fact]
    public async Task FloodThatIsAlwaysInHand_IsStillFlushedEvery64KB()
    {
        // 1 MB of events, every read in hand at once: nothing may pile up unsent until the end.
        var piece = string.Concat(Enumerable.Range(0, 40).Select(i => $"data: {{\"text\":\"{new string('x', 90)}\"}}\n\n"));
        var reads = Enumerable.Repeat(piece, 1024 * 1024 / piece.Length).Append("data: [DONE]\n\n").ToList();
        var client = new RecordingWriter();

        Assert.Null(await RunAsync(new ScriptedStream(reads.Select(Ready)), client));

        Assert.Equal(string.Concat(reads), string.Concat(client.Flushes));
        Assert.All(client.Flushes, f => Assert.True(f.Length <= 64 * 1024 + piece.Length, $"a flush held {f.Length} bytes"));
        Assert.True(client.Flushes.Count >= 1024 * 1024 / (64 * 1024 + piece.Length), $"{client.Flushes.Count} flushes for 1 MB");
    }

    [Fact]
    public async Task ClientGoneWhileTheNextReadWaits_StopsWithoutWaitingForTheUpstream()
    {
        var never = new TaskCompletionSource<string>();
        var client = new RecordingWriter { Gone = true };

        var failure = await RunAsync(new ScriptedStream([Ready("data: {\"n\":0}\n\n"), never.Task]), client).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(UpstreamFailure.ClientCanceled, failure?.Failure);
    }

    private static Task<string> Ready(string text) => Task.FromResult(text);

    private static async Task<UpstreamException?> RunAsync(Stream body, RecordingWriter client)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(body) };
        response.Content.Headers.ContentType = new("text/event-stream");
        using var timeout = new ActivityTimeout(TimeSpan.FromSeconds(30), CancellationToken.None);
        var answer = new UpstreamAnswer(response, timeout, new Uri("http://127.0.0.1:1234/v1/chat/completions"), null);
        return await UpstreamPipeline.ReadEventsAsync(answer, new EchoSink(client), client);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    /// <summary>Writes each event back as it came, as the relay writes one event per upstream event.</summary>
    private sealed class EchoSink(PipeWriter client) : IUpstreamEventSink
    {
        public bool OnEvent(ReadOnlySpan<byte> data)
        {
            client.Write("data: "u8);
            client.Write(data);
            client.Write("\n\n"u8);
            return !data.SequenceEqual("[DONE]"u8);
        }
    }

    /// <summary>An upstream body whose reads are scripted: a completed task is data already in hand, a pending one the upstream still thinking.</summary>
    private sealed class ScriptedStream(IEnumerable<Task<string>> reads) : Stream
    {
        private readonly Queue<Task<string>> _reads = new(reads);
        private byte[] _rest = [];

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_rest.Length == 0 && _reads.TryPeek(out var next) && next.IsCompleted)
            {
                _rest = Encoding.UTF8.GetBytes(_reads.Dequeue().Result);
            }

            if (_rest.Length > 0 || _reads.Count == 0)
            {
                return ValueTask.FromResult(Take(buffer));
            }

            return WaitAsync(buffer, cancellationToken);
        }

        private async ValueTask<int> WaitAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            _rest = Encoding.UTF8.GetBytes(await _reads.Dequeue().WaitAsync(cancellationToken));
            return Take(buffer);
        }

        private int Take(Memory<byte> buffer)
        {
            var n = Math.Min(buffer.Length, _rest.Length);
            _rest.AsSpan(0, n).CopyTo(buffer.Span);
            _rest = _rest[n..];
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A client that records what each flush sent; <see cref="Gone"/> answers every flush as a closed connection.</summary>
    private sealed class RecordingWriter : PipeWriter
    {
        private readonly MemoryStream _pending = new();
        private byte[] _span = new byte[4096];

        public List<string> Flushes { get; } = [];

        public bool Gone { get; init; }

        public override void Advance(int bytes) => _pending.Write(_span, 0, bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _span = new byte[Math.Max(sizeHint, 4096)];

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Flushes.Add(Encoding.UTF8.GetString(_pending.ToArray()));
            _pending.SetLength(0);
            return ValueTask.FromResult(new FlushResult(isCanceled: false, isCompleted: Gone));
        }

        public override void CancelPendingFlush() { }

        public override void Complete(Exception? exception = null) { }
    }
}
