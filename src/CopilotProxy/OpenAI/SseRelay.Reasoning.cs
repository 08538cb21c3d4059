using System.Text.Json;
using CopilotProxy.Configuration;

namespace CopilotProxy.OpenAI;

/// <summary>
/// The relay's side of reasoning written as text (REASONING_TAGS): an event whose text holds reasoning is replaced by the
/// events <see cref="ReasoningEvents"/> rewrites it into, and those are relayed as the upstream's own, so the reasoning
/// leaves in <c>reasoning_content</c> and <c>reasoning_text</c> and the tool-call repair sees only the answer.
/// </summary>
public sealed partial class SseRelay
{
    private readonly ReasoningEvents? _reasoning;
    private bool _replaying;

    /// <summary>The form of reasoning the relay took out of the answer text, if any.</summary>
    public ReasoningFormats? ReasoningFound => _reasoning?.Found;

    /// <summary>The fast path's check: true when the plain event was replaced (and its replacements relayed).</summary>
    private bool SplitReasoning(ReadOnlySpan<byte> data, in PlainEventScan plain)
    {
        if (_replaying || _reasoning is not { Active: true } reasoning || plain.ContentStart < 0 || !reasoning.TryRewrite(data, plain.ContentStart, plain.ContentEnd))
        {
            return false;
        }

        Replay(reasoning.Events);
        return true;
    }

    /// <summary>The document path's check: true when the event was replaced (and its replacements relayed).</summary>
    private bool SplitReasoning(JsonElement root)
    {
        if (_replaying || _reasoning is not { Active: true } reasoning || !reasoning.TryRewrite(root))
        {
            return false;
        }

        Replay(reasoning.Events);
        return true;
    }

    /// <summary>The answer ends without a finish reason: text the splitter still held goes out, on the side it was on.</summary>
    private void FlushReasoning()
    {
        if (!_replaying && _reasoning is { Active: true } reasoning && reasoning.Flush())
        {
            Replay(reasoning.Events);
        }
    }

    private void Replay(IReadOnlyList<byte[]> events)
    {
        _replaying = true;
        try
        {
            foreach (var data in events)
            {
                HandleEvent(data);
            }
        }
        finally
        {
            _replaying = false;
        }
    }
}
