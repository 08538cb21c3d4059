using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Sends events a rewrite made back through the stream's own handler, as if the upstream had sent them, with
/// <c>replaying</c> set meanwhile so that handler does not hand them to the rewrite again.
/// </summary>
internal static class EventReplay
{
    public static void Run(IUpstreamEventSink stream, IReadOnlyList<byte[]> events, ref bool replaying)
    {
        replaying = true;
        try
        {
            foreach (var data in events)
            {
                stream.OnEvent(data);
            }
        }
        finally
        {
            replaying = false;
        }
    }
}
