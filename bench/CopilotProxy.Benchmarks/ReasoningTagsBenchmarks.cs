using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using CopilotProxy.Configuration;
using CopilotProxy.Ollama;
using CopilotProxy.OpenAI;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Benchmarks;

/// <summary>
/// What REASONING_TAGS costs per event. Plain answer text, with it on against off, through the relay (<c>/v1/chat/completions</c>)
/// and the translation (<c>/api/chat</c>): the answer began as text, so every form is decided off except the watch for a
/// stray <c>&lt;/think&gt;</c>. And text inside a <c>&lt;think&gt;</c> block, rewritten into <c>reasoning_content</c>, against the
/// same reasoning sent by an upstream that separates it.
/// </summary>
[MemoryDiagnoser]
public class ReasoningTagsBenchmarks
{
    private const string Head = """{"id":"chatcmpl-RRcsyktMqLpkz9PH4KJyIsU9fekifE2t","object":"chat.completion.chunk","created":1795672868,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant",""";

    private static readonly byte[] TextEvent = Encoding.UTF8.GetBytes(Head + "\"content\":\" constrained\"},\"logprobs\":null,\"finish_reason\":null}]}");
    private static readonly byte[] ThinkOpenEvent = Encoding.UTF8.GetBytes(Head + "\"content\":\"<think>\"},\"logprobs\":null,\"finish_reason\":null}]}");
    private static readonly byte[] UpstreamReasoningEvent = Encoding.UTF8.GetBytes(Head + "\"reasoning_content\":\" constrained\"},\"logprobs\":null,\"finish_reason\":null}]}");

    private PipeWriter _output = null!;
    private SseRelay _relayOff = null!;
    private SseRelay _relayOn = null!;
    private SseRelay _relayInThink = null!;
    private SseRelay _relayUpstreamReasoning = null!;
    private ChunkTranslator _translatorOff = null!;
    private ChunkTranslator _translatorOn = null!;
    private ChunkTranslator _translatorInThink = null!;

    [GlobalSetup]
    public void Setup()
    {
        _output = PipeWriter.Create(Stream.Null);
        _relayOff = Relay(ReasoningFormats.None, TextEvent);
        _relayOn = Relay(ReasoningFormats.Auto, TextEvent);
        _relayInThink = Relay(ReasoningFormats.Auto, ThinkOpenEvent);
        _relayUpstreamReasoning = Relay(ReasoningFormats.None, UpstreamReasoningEvent);
        _translatorOff = Translator(ReasoningFormats.None, TextEvent);
        _translatorOn = Translator(ReasoningFormats.Auto, TextEvent);
        _translatorInThink = Translator(ReasoningFormats.Auto, ThinkOpenEvent);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _relayOff.Dispose();
        _relayOn.Dispose();
        _relayInThink.Dispose();
        _relayUpstreamReasoning.Dispose();
        _translatorOff.Dispose();
        _translatorOn.Dispose();
        _translatorInThink.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void RelayText_TagsOff() => Flush(_relayOff.HandleEvent(TextEvent));

    [Benchmark]
    public void RelayText_TagsOn() => Flush(_relayOn.HandleEvent(TextEvent));

    /// <summary>Text inside a &lt;think&gt; block: rewritten into reasoning_content, then relayed with reasoning_text.</summary>
    [Benchmark]
    public void RelayTextInThink_TagsOn() => Flush(_relayInThink.HandleEvent(TextEvent));

    /// <summary>The same reasoning from an upstream that separates it: the reference for the line above.</summary>
    [Benchmark]
    public void RelayUpstreamReasoning() => Flush(_relayUpstreamReasoning.HandleEvent(UpstreamReasoningEvent));

    [Benchmark]
    public void TranslateText_TagsOff() => Flush(_translatorOff.HandleEvent(TextEvent));

    [Benchmark]
    public void TranslateText_TagsOn() => Flush(_translatorOn.HandleEvent(TextEvent));

    [Benchmark]
    public void TranslateTextInThink_TagsOn() => Flush(_translatorInThink.HandleEvent(TextEvent));

    /// <summary>A relay whose stream has begun with <paramref name="first"/> and one text event, as a real stream would.</summary>
    private SseRelay Relay(ReasoningFormats formats, byte[] first)
    {
        var relay = new SseRelay(_output, "qwen/qwen3-8b:latest", NullLogger.Instance, reasoning: ReasoningEvents.For(formats, "qwen/qwen3-8b", NullLogger.Instance));
        relay.HandleEvent(first);
        relay.HandleEvent(first == ThinkOpenEvent ? TextEvent : first);
        return relay;
    }

    private ChunkTranslator Translator(ReasoningFormats formats, byte[] first)
    {
        var translator = new ChunkTranslator(_output, "qwen/qwen3-8b:latest", OllamaAnswerShape.Chat, stream: true, showThinking: true, Stopwatch.GetTimestamp())
        {
            Reasoning = ReasoningEvents.For(formats, "qwen/qwen3-8b", NullLogger.Instance),
        };
        translator.HandleEvent(first);
        translator.HandleEvent(TextEvent);
        return translator;
    }

    private void Flush(bool _)
    {
        // Stream.Null completes synchronously; the flush only hands the written segment back to the pipe.
        var flush = _output.FlushAsync();
        if (!flush.IsCompleted)
        {
            throw new InvalidOperationException("A flush to Stream.Null should complete synchronously.");
        }
    }
}
