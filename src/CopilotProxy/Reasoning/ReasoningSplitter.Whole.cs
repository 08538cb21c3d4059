using System.Buffers;
using System.Text;
using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;

namespace CopilotProxy.Reasoning;

/// <summary>The splitter over a whole (non-streamed) answer text.</summary>
public sealed partial class ReasoningSplitter
{
    /// <summary>The answer's reasoning and its text, or null when the text holds no form (it stays as it is).</summary>
    public static (string Reasoning, string Content, ReasoningFormats Found)? SplitWhole(string text, ReasoningFormats formats, string model, ILogger logger)
    {
        using var splitter = new ReasoningSplitter(formats, model, logger);
        var bytes = Encoding.UTF8.GetBytes(text);
        var reasoning = new ArrayBufferWriter<byte>();
        var content = new ArrayBufferWriter<byte>();
        var step = splitter.Append(bytes);
        if (step != ReasoningStep.Parts)
        {
            (step == ReasoningStep.Reasoning ? reasoning : content).Write(bytes);
        }

        splitter.CollectInto(reasoning, content);
        splitter.Finish();
        splitter.CollectInto(reasoning, content);
        return splitter.Found is { } found
            ? (Encoding.UTF8.GetString(reasoning.WrittenSpan), Encoding.UTF8.GetString(content.WrittenSpan), found)
            : null;
    }

    private void CollectInto(ArrayBufferWriter<byte> reasoning, ArrayBufferWriter<byte> content)
    {
        for (var i = 0; i < PartCount; i++)
        {
            var part = Part(i, out var isReasoning);
            (isReasoning ? reasoning : content).Write(part);
        }
    }
}
