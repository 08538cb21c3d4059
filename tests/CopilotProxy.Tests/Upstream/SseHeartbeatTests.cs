using System.IO.Pipelines;
using System.Text;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Time.Testing;

namespace CopilotProxy.Tests.Upstream;

/// <summary>
/// STREAM_HEARTBEAT_SECONDS on a fake clock: a comment goes to the client only after a whole interval in which the
/// upstream sent nothing, so a healthy stream is relayed untouched, and a silent one gets one comment per interval.
/// </summary>
public sealed class SseHeartbeatTests : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly Pipe _upstream = new();
    private readonly Pipe _client = new();
    private readonly Stream _upstreamBody;
    private readonly SseHeartbeat _heartbeat;

    public SseHeartbeatTests()
    {
        _upstreamBody = _upstream.Reader.AsStream();
        _heartbeat = new SseHeartbeat(_client.Writer, Interval, _time);
    }

    private ValueTask<int> ReadAsync() => _heartbeat.WaitAsync(_upstreamBody.ReadAsync(new byte[256], CancellationToken.None), CancellationToken.None);

    private async Task<int> SendEventAsync(ValueTask<int> pending)
    {
        await _upstream.Writer.WriteAsync("data: {}\n\n"u8.ToArray());
        return await pending;
    }

    private string ClientReceived()
    {
        if (!_client.Reader.TryRead(out var result))
        {
            return "";
        }

        var text = Encoding.UTF8.GetString(result.Buffer);
        _client.Reader.AdvanceTo(result.Buffer.End);
        return text;
    }

    [Fact]
    public async Task EventsLessThanAnIntervalApart_GetNoComment()
    {
        for (var i = 0; i < 5; i++)
        {
            var read = ReadAsync();
            _time.Advance(Interval * 0.6);
            Assert.True(await SendEventAsync(read) > 0);
        }

        Assert.Equal("", ClientReceived());
        Assert.Equal(0, _heartbeat.Sent);
    }

    [Fact]
    public async Task SilenceAfterAnEvent_GetsACommentAfterAWholeInterval_ThenOneEachInterval()
    {
        var first = ReadAsync();
        _time.Advance(Interval * 0.6);
        await SendEventAsync(first);

        var waiting = ReadAsync();
        _time.Advance(Interval * 0.6);
        var early = ClientReceived();
        _time.Advance(Interval * 0.4);
        var atInterval = ClientReceived();
        _time.Advance(Interval);
        var second = ClientReceived();
        await SendEventAsync(waiting);

        Assert.Equal("", early);
        Assert.Equal(": keep-alive\n\n", atInterval);
        Assert.Equal(": keep-alive\n\n", second);
        Assert.Equal(2, _heartbeat.Sent);
    }

    [Fact]
    public async Task MidEvent_NoCommentIsWritten()
    {
        _heartbeat.AtEventBoundary = false;
        var read = ReadAsync();

        _time.Advance(Interval * 3);
        await SendEventAsync(read);

        Assert.Equal("", ClientReceived());
    }

    [Fact]
    public async Task WaitingForTheUpstreamsHeaders_CommitsTheResponseBeforeTheFirstComment()
    {
        var committed = 0;
        _heartbeat.BeforeFirst = () =>
        {
            committed++;
            return Task.CompletedTask;
        };
        var headers = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = _heartbeat.WhileWaitingAsync(headers.Task, CancellationToken.None);

        _time.Advance(Interval);
        _time.Advance(Interval);
        headers.SetResult(200);

        Assert.Equal(200, await waiting);
        Assert.Equal(1, committed);
        Assert.Equal(": keep-alive\n\n: keep-alive\n\n", ClientReceived());
    }

    [Fact]
    public async Task AfterTheRequestEnds_NothingIsWritten()
    {
        var read = ReadAsync();
        _time.Advance(Interval * 0.5);
        _heartbeat.Dispose();

        _time.Advance(Interval * 2);

        Assert.Equal("", ClientReceived());
        await _upstream.Writer.CompleteAsync();
        Assert.Equal(0, await read);
    }

    public async ValueTask DisposeAsync()
    {
        _heartbeat.Dispose();
        await _upstream.Writer.CompleteAsync();
        await _client.Writer.CompleteAsync();
    }
}
