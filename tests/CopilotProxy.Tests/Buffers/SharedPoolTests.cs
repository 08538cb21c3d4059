using System.Buffers;
using CopilotProxy.Buffers;

namespace CopilotProxy.Tests.Buffers;

/// <summary>
/// The shared pool keeps what it is given until a full collection finds it stale, and an idle proxy runs none: a large
/// array given back there would stay for good, and so would the memory the collector freed.
/// </summary>
public sealed class SharedPoolTests
{
    [Fact]
    public void LargeArrays_AreNotGivenBackToTheSharedPool()
    {
        var large = new byte[SharedPool.MaxPooledBytes + 1];
        SharedPool.Return(large);
        // Same thread, no await: a pooled array would come straight back from this thread's own slot.
        var rented = ArrayPool<byte>.Shared.Rent(large.Length);
        Assert.NotSame(large, rented);

        var small = ArrayPool<byte>.Shared.Rent(4096);
        SharedPool.Return(small);
        Assert.Same(small, ArrayPool<byte>.Shared.Rent(4096));

        var chars = new char[(SharedPool.MaxPooledBytes / sizeof(char)) + 1];
        SharedPool.Return(chars);
        Assert.NotSame(chars, ArrayPool<char>.Shared.Rent(chars.Length));
    }

    [Fact]
    public async Task AfterALargeArray_MemoryIsGivenBack()
    {
        var before = SharedPool.Trims;
        SharedPool.Return(new byte[SharedPool.MaxPooledBytes + 1]);
        var deadline = DateTime.UtcNow + SharedPool.LargeArrayDelay + TimeSpan.FromSeconds(30);
        while (SharedPool.Trims == before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True(SharedPool.Trims > before, "no collection gave the large array's memory back");
    }
}
