namespace CopilotProxy.Queueing;

/// <summary>
/// The slots of one deployment: at most <see cref="Capacity"/> requests in flight, and beyond that a queue per key,
/// served round-robin so one key's burst cannot starve another. A key that gets a slot goes to the back of the ring;
/// a key that starts waiting joins at the back. A waiter that gives up (client gone, timeout) leaves at once.
/// </summary>
public sealed class FairSlots(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, KeyLine> _lines = new(StringComparer.Ordinal);
    private readonly LinkedList<KeyLine> _ring = new();
    private int _inFlight;
    private int _depth;

    public int Capacity { get; private set; } = capacity;

    public int InFlight
    {
        get { lock (_lock) { return _inFlight; } }
    }

    /// <summary>Requests waiting for a slot now.</summary>
    public int Depth
    {
        get { lock (_lock) { return _depth; } }
    }

    /// <summary>Requests of <paramref name="key"/> waiting now.</summary>
    public int WaitingFor(string key)
    {
        lock (_lock)
        {
            return _lines.TryGetValue(key, out var line) ? line.Waiters.Count : 0;
        }
    }

    /// <summary>A config reload may change the cap; waiters are admitted at once if it grew.</summary>
    public void Resize(int capacity)
    {
        lock (_lock)
        {
            Capacity = capacity;
            Dispatch();
        }
    }

    /// <summary>
    /// Waits for a slot for <paramref name="key"/>. Completes with a lease (dispose it to free the slot); throws
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires first, having left the queue.
    /// </summary>
    public async ValueTask<IDisposable> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_inFlight < Capacity && _depth == 0)
            {
                _inFlight++;
                return new Lease(this);
            }

            if (!_lines.TryGetValue(key, out var line))
            {
                _lines[key] = line = new KeyLine(key);
                line.RingNode = _ring.AddLast(line);
            }

            waiter = new Waiter(line);
            waiter.Node = line.Waiters.AddLast(waiter);
            _depth++;
        }

        await using (cancellationToken.Register(static state => ((WaiterState)state!).Leave(), new WaiterState(this, waiter)))
        {
            try
            {
                await waiter.Task.ConfigureAwait(false);
            }
            catch (TaskCanceledException)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }

        return new Lease(this);
    }

    private void Leave(Waiter waiter)
    {
        lock (_lock)
        {
            // Under the lock a waiter is either still queued (it leaves now) or already holds a slot: then its caller
            // gets the lease, sees the cancellation on its next await and disposes the lease, freeing the slot.
            if (waiter.Node is not null)
            {
                Remove(waiter);
                waiter.TrySetCanceled();
            }
        }
    }

    private void Release()
    {
        lock (_lock)
        {
            _inFlight--;
            Dispatch();
        }
    }

    /// <summary>Hands free slots to waiters, one key at a time. Called with the lock held.</summary>
    private void Dispatch()
    {
        while (_inFlight < Capacity && _ring.First is { } ringNode)
        {
            var line = ringNode.Value;
            var next = line.Waiters.First!.Value;
            Remove(next);
            _inFlight++;
            if (line.Waiters.Count > 0)
            {
                // Served: this key goes to the back of the ring.
                _ring.Remove(ringNode);
                _ring.AddLast(ringNode);
            }

            next.TrySetResult();
        }
    }

    private void Remove(Waiter waiter)
    {
        var line = waiter.Line;
        line.Waiters.Remove(waiter.Node!);
        waiter.Node = null;
        _depth--;
        if (line.Waiters.Count == 0)
        {
            _ring.Remove(line.RingNode!);
            _lines.Remove(line.Key);
        }
    }

    private sealed class KeyLine(string key)
    {
        public string Key { get; } = key;
        public LinkedList<Waiter> Waiters { get; } = new();
        public LinkedListNode<KeyLine>? RingNode { get; set; }
    }

    private sealed class Waiter(KeyLine line) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public KeyLine Line { get; } = line;
        public LinkedListNode<Waiter>? Node { get; set; }
    }

    private sealed record WaiterState(FairSlots Queue, Waiter Waiter)
    {
        public void Leave() => Queue.Leave(Waiter);
    }

    private sealed class Lease(FairSlots owner) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release();
            }
        }
    }
}
