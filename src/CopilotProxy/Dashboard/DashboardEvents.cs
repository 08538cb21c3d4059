using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using CopilotProxy.Dashboard.Wire;
using CopilotProxy.Http;
using CopilotProxy.Telemetry;

namespace CopilotProxy.Dashboard;

/// <summary>
/// Fans live traffic and model jobs out to every open event stream. Each stream has a small bounded queue that drops its
/// oldest events when the page can't keep up, so a stalled browser never holds up a request.
/// </summary>
public sealed class DashboardEvents : IDisposable
{
    private readonly ConcurrentDictionary<Channel<byte[]>, byte> _subscribers = new();
    private readonly LiveTraffic _traffic;
    private readonly ModelActions _actions;
    private readonly TimeProvider _time;

    public DashboardEvents(LiveTraffic traffic, ModelActions actions, TimeProvider time)
    {
        _traffic = traffic;
        _actions = actions;
        _time = time;
        traffic.Changed += OnTraffic;
        actions.Changed += OnJob;
    }

    public ChannelReader<byte[]> Subscribe(out Action unsubscribe)
    {
        var channel = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        _subscribers[channel] = 0;
        unsubscribe = () => _subscribers.TryRemove(channel, out _);
        return channel.Reader;
    }

    /// <summary>One SSE event: <c>event: name</c>, one <c>data:</c> line of JSON, a blank line.</summary>
    public static byte[] Frame(string name, byte[] json) => [.. Encoding.UTF8.GetBytes("event: " + name + "\ndata: "), .. json, .. "\n\n"u8];

    public static IReadOnlyList<DashboardInFlight> InFlightNow(LiveTraffic traffic, DateTimeOffset now) =>
        [.. traffic.InFlight().Select(r => new DashboardInFlight(
            r.Id, r.StartedAt, r.FrontDoor, r.Method, r.Path, r.Client, r.Telemetry.ClientModel,
            Math.Round((now - r.StartedAt).TotalMilliseconds, 0),
            r.Telemetry.TimeToFirstToken is { } ttft ? Math.Round(ttft.TotalMilliseconds, 1) : null, r.Telemetry.Streaming))];

    private void OnTraffic(InFlightRequest? started, FinishedRequest? finished)
    {
        if (_subscribers.IsEmpty)
        {
            return;
        }

        if (finished is not null)
        {
            Publish(Frame("finished", ReadableJson.SerializeToUtf8Bytes(new FinishedEvent(finished, _traffic.Totals()), DashboardJsonContext.Default.FinishedEvent)));
        }

        // Started and finished both change the in-flight list; the stream also resends it every second while it is not empty.
        Publish(Frame("inflight", ReadableJson.SerializeToUtf8Bytes(InFlightNow(_traffic, _time.GetUtcNow()), DashboardJsonContext.Default.IReadOnlyListDashboardInFlight)));
    }

    private void OnJob(ModelJob job)
    {
        if (!_subscribers.IsEmpty)
        {
            Publish(Frame("job", ReadableJson.SerializeToUtf8Bytes(job, DashboardJsonContext.Default.ModelJob)));
        }
    }

    private void Publish(byte[] frame)
    {
        foreach (var subscriber in _subscribers.Keys)
        {
            subscriber.Writer.TryWrite(frame);
        }
    }

    public void Dispose()
    {
        _traffic.Changed -= OnTraffic;
        _actions.Changed -= OnJob;
    }
}
