using System.Buffers;
using System.Runtime.CompilerServices;

namespace CopilotProxy.Buffers;

/// <summary>
/// Gives arrays back to the shared pool, except large ones, and gives memory the proxy no longer uses back to the OS.
/// </summary>
/// <remarks>
/// The pool keeps what it is given (an array per size per thread, more per core) until a full collection finds it
/// stale, and an idle proxy runs none: each 10 MB event would leave its buffers, and their doublings on the way up, on
/// whichever threads handled it. So arrays over <see cref="MaxPooledBytes"/> go to the garbage collector instead.
/// The collector, in turn, keeps the memory it freed committed for reuse, and an idle proxy never reuses it. One
/// compacting collection hands it back: <see cref="LargeArrayDelay"/> after large arrays stop coming (continuous large
/// events keep pushing that back, so they never cause a collection per event), and <see cref="IdleDelay"/> after the
/// last request ends, so a desktop proxy returns to its idle footprint between chats.
/// </remarks>
internal static class SharedPool
{
    /// <summary>The largest array given back to the shared pool; larger ones go to the garbage collector.</summary>
    public const int MaxPooledBytes = 1024 * 1024;

    /// <summary>How long after the last large array the memory is given back.</summary>
    public static readonly TimeSpan LargeArrayDelay = TimeSpan.FromSeconds(2);

    /// <summary>How long without a request before the memory is given back; tests shorten it.</summary>
    internal static TimeSpan IdleDelay { get; set; } = TimeSpan.FromSeconds(30);

    private static readonly Timer AfterLargeArrays = new(_ => Trim());

    private static readonly Timer AfterIdle = new(_ =>
    {
        if (Volatile.Read(ref s_requests) == 0)
        {
            Trim();
        }
    });

    private static int s_trims;
    private static int s_requests;

    /// <summary>How many times memory was given back since the process started.</summary>
    public static int Trims => Volatile.Read(ref s_trims);

    /// <summary>Gives <paramref name="buffer"/> back to the shared pool, or to the garbage collector when it is over <see cref="MaxPooledBytes"/>; an empty array is ignored.</summary>
    public static void Return<T>(T[] buffer)
        where T : unmanaged
    {
        if ((long)buffer.Length * Unsafe.SizeOf<T>() > MaxPooledBytes)
        {
            LargeReleased();
        }
        else if (buffer.Length > 0)
        {
            ArrayPool<T>.Shared.Return(buffer);
        }
    }

    /// <summary>A large array is garbage now: (re)starts the countdown to giving its memory back.</summary>
    public static void LargeReleased() => AfterLargeArrays.Change(LargeArrayDelay, Timeout.InfiniteTimeSpan);

    /// <summary>A client's request began (health probes and the dashboard's own calls do not count: they would keep the proxy from ever being idle).</summary>
    public static void RequestStarted() => Interlocked.Increment(ref s_requests);

    /// <summary>A client's request ended; the last one (re)starts the idle countdown.</summary>
    public static void RequestEnded()
    {
        if (Interlocked.Decrement(ref s_requests) == 0)
        {
            AfterIdle.Change(IdleDelay, Timeout.InfiniteTimeSpan);
        }
    }

    private static void Trim()
    {
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Interlocked.Increment(ref s_trims);
    }
}
