using System.Text.Json;
using CopilotProxy.Configuration;

namespace CopilotProxy.OpenAI;

/// <summary>
/// Reasoning written as text in a streamed Responses or Messages answer: a rewrite of the upstream's events that
/// <see cref="EventStreamRelay"/> replays as if the upstream had sent them (so the tool-call repair sees only the answer).
/// </summary>
public interface IEventStreamReasoning : IDisposable
{
    /// <summary>The events that replace the last one given, in order.</summary>
    IReadOnlyList<byte[]> Events { get; }

    /// <summary>The form taken out of the text, once one was.</summary>
    ReasoningFormats? Found { get; }

    /// <summary>
    /// True when the event was replaced by <see cref="Events"/> (possibly none: a held start); false when it goes on as it
    /// came, after <see cref="Events"/> (what it released that was held).
    /// </summary>
    bool TryRewrite(string? type, JsonElement root);

    /// <summary>The stream broke inside the text: true when what was held, and the reasoning's end, are in <see cref="Events"/>.</summary>
    bool Flush();
}
