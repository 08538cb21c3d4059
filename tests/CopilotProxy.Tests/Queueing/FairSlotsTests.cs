using CopilotProxy.Queueing;

namespace CopilotProxy.Tests.Queueing;

/// <summary>The fair queue of one deployment: a burst from one key cannot starve another, and a client that leaves is gone at once.</summary>
public class FairSlotsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KeyASends20BeforeKeyBSends2_BsFirstRequestStartsWithinAsNext2()
    {
        var slots = new FairSlots(2);
        var started = new List<string>();
        var startedLock = new Lock();
        var running = new List<(string Name, IDisposable Lease)>();

        async Task<(string, IDisposable)> Request(string key, int n)
        {
            var lease = await slots.AcquireAsync(key, TestContext.Current.CancellationToken);
            lock (startedLock)
            {
                started.Add($"{key}{n}");
            }

            return ($"{key}{n}", lease);
        }

        var pending = new List<Task<(string, IDisposable)>>();
        for (var i = 1; i <= 20; i++)
        {
            pending.Add(Request("A", i));
        }

        for (var i = 1; i <= 2; i++)
        {
            pending.Add(Request("B", i));
        }

        Assert.Equal(20, slots.Depth);
        // Finish requests one at a time, oldest first, as a GPU with two slots would.
        while (pending.Count > 0)
        {
            var done = pending.Where(t => t.IsCompleted).ToList();
            foreach (var task in done)
            {
                running.Add(await task);
                pending.Remove(task);
            }

            if (running.Count == 0)
            {
                await Task.WhenAny(pending);
                continue;
            }

            running[0].Lease.Dispose();
            running.RemoveAt(0);
            await Task.WhenAny([.. pending, Task.Delay(50, TestContext.Current.CancellationToken)]);
        }

        foreach (var (_, lease) in running)
        {
            lease.Dispose();
        }

        output.WriteLine("start order (2 slots; A queued 20 requests, then B queued 2):");
        for (var i = 0; i < started.Count; i++)
        {
            output.WriteLine($"  slot grant {i + 1,2}: {started[i]}");
        }

        // A1 and A2 took the two free slots; B1 must start among the next grants, no later than after A's next 2.
        var afterBArrived = started.Skip(2).ToList();
        var firstB = afterBArrived.IndexOf("B1");
        Assert.InRange(firstB, 0, 2);
        Assert.Equal(22, started.Count);
        Assert.Equal(0, slots.InFlight);
    }

    [Fact]
    public async Task WaiterCancels_LeavesTheQueueAtOnce_AndTheNextKeyGetsTheSlot()
    {
        var slots = new FairSlots(1);
        var first = await slots.AcquireAsync("A", TestContext.Current.CancellationToken);
        using var leaving = new CancellationTokenSource();
        var gone = slots.AcquireAsync("A", leaving.Token).AsTask();
        var next = slots.AcquireAsync("B", TestContext.Current.CancellationToken).AsTask();
        Assert.Equal(2, slots.Depth);

        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gone);
        Assert.Equal(1, slots.Depth);
        Assert.Equal(0, slots.WaitingFor("A"));

        first.Dispose();
        using var lease = await next.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(0, slots.Depth);
        Assert.Equal(1, slots.InFlight);
    }
}
