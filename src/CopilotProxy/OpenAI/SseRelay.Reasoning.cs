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

    /// <summary>The form of reasoning the relay took out of the answer text, if any.</summary>
    public ReasoningFormats? ReasoningFound => _reasoning?.Found;

    /// <summary>The fast path's check: true when the plain event was replaced (and its replacements relayed).</summary>
    private bool SplitReasoning(ReadOnlySpan<byte> data, in PlainEventScan plain) =>
        _reasoning is not null && _reasoning.Replace(data, plain.ContentStart, plain.ContentEnd, this);

    /// <summary>
    /// The fast path's check on a finish event: true when it may stay on the fast path. The document path would only end
    /// the splitter when the finish carries no text and nothing is held; every stream ends so, and parsing its last event
    /// for that cost ~4 µs.
    /// </summary>
    private bool FinishReasoning(in PlainEventScan plain) =>
        _reasoning is not { Active: true }
        || (plain is { Choices: 1, FirstChoiceIrregular: false } && (plain.ContentStart < 0 || plain.ContentEnd - plain.ContentStart <= 2)
            && _reasoning.FinishUnheld());

    /// <summary>The document path's check: true when the event was replaced (and its replacements relayed).</summary>
    private bool SplitReasoning(JsonElement root) => _reasoning is not null && _reasoning.Replace(root, this);

    /// <summary>The answer ends without a finish reason: text the splitter still held goes out, on the side it was on.</summary>
    private void FlushReasoning() => _reasoning?.FlushTo(this);
}
