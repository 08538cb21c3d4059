using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Ollama;

/// <summary>
/// The translation's side of reasoning written as text (REASONING_TAGS): an event whose text holds reasoning is replaced by
/// the events <see cref="ReasoningEvents"/> rewrites it into, translated as the upstream's own, so the reasoning reaches
/// the client in <c>thinking</c> (and is dropped with <c>think:false</c>, as the upstream's own reasoning is).
/// </summary>
public sealed partial class ChunkTranslator
{
    private ReasoningEvents? _reasoning;

    /// <summary>Takes reasoning written as text out of the answer (REASONING_TAGS); owned by the translator.</summary>
    public ReasoningEvents? Reasoning
    {
        get => _reasoning;
        init => _reasoning = value;
    }

    /// <summary>The form of reasoning the translation took out of the answer text, if any.</summary>
    public ReasoningFormats? ReasoningFound => _reasoning?.Found;

    /// <summary>The fast path's check: false sends the event on (or, when the upstream sends its own reasoning, down the document path).</summary>
    private bool SplitReasoning(ReadOnlySpan<byte> data, in PlainEventScan plain, out bool documentPath)
    {
        documentPath = false;
        if (_reasoning is not { Ready: true } reasoning)
        {
            return false;
        }

        if (plain.Reasoning.End - plain.Reasoning.Start > 2 || plain.AltReasoning.End - plain.AltReasoning.Start > 2)
        {
            // The upstream separates reasoning itself: the document path ends the splitter.
            documentPath = true;
            return false;
        }

        return reasoning.Replace(data, plain.ContentStart, plain.ContentEnd, this);
    }

    private bool SplitReasoning(JsonElement root) => _reasoning is not null && _reasoning.Replace(root, this);

    /// <summary>The answer ended or broke: text the splitter still held goes out, on the side it was on.</summary>
    private void FlushReasoning() => _reasoning?.FlushTo(this);
}
