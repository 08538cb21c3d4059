using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using CopilotProxy.Ollama;
using CopilotProxy.OpenAI;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Benchmarks;

/// <summary>
/// The translation's per-event cost (<c>/api/chat</c>, <c>stream:true</c>): one upstream SSE event in, one NDJSON line
/// out, through the fast path and, for comparison, with every event forced down the document path.
/// </summary>
[MemoryDiagnoser]
public class TranslationBenchmarks
{
    private static readonly byte[] TextEvent = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-RRcsyktMqLpkz9PH4KJyIsU9fekifE2t","object":"chat.completion.chunk","created":1795672868,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant","content":" constrained"},"logprobs":null,"finish_reason":null}]}""");

    private static readonly byte[] EscapedTextEvent = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-RRcsyktMqLpkz9PH4KJyIsU9fekifE2t","object":"chat.completion.chunk","created":1795672868,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant","content":"\"caf\u00e9\"\n"},"logprobs":null,"finish_reason":null}]}""");

    private static readonly byte[] ReasoningEvent = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795672868,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me think"},"logprobs":null,"finish_reason":null}]}""");

    private PipeWriter _output = null!;
    private ChunkTranslator _fast = null!;
    private ChunkTranslator _document = null!;
    private ChunkTranslator _fastRepair = null!;
    private ChunkTranslator _documentRepair = null!;

    [GlobalSetup]
    public void Setup()
    {
        _output = PipeWriter.Create(Stream.Null);
        _fast = Translator(documentOnly: false, repair: false);
        _document = Translator(documentOnly: true, repair: false);
        // Copilot always offers tools, so the tool-call repair watches the text of most real answers.
        _fastRepair = Translator(documentOnly: false, repair: true);
        _documentRepair = Translator(documentOnly: true, repair: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _fast.Dispose();
        _document.Dispose();
        _fastRepair.Dispose();
        _documentRepair.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void TextEvent_DocumentPath() => Translate(_document, TextEvent);

    [Benchmark]
    public void TextEvent_FastPath() => Translate(_fast, TextEvent);

    [Benchmark]
    public void TextEventWithRepair_DocumentPath() => Translate(_documentRepair, TextEvent);

    [Benchmark]
    public void TextEventWithRepair_FastPath() => Translate(_fastRepair, TextEvent);

    [Benchmark]
    public void EscapedTextEvent_DocumentPath() => Translate(_document, EscapedTextEvent);

    [Benchmark]
    public void EscapedTextEvent_FastPath() => Translate(_fast, EscapedTextEvent);

    [Benchmark]
    public void ReasoningEvent_DocumentPath() => Translate(_document, ReasoningEvent);

    [Benchmark]
    public void ReasoningEvent_FastPath() => Translate(_fast, ReasoningEvent);

    private ChunkTranslator Translator(bool documentOnly, bool repair)
    {
        var translator = new ChunkTranslator(_output, "qwen3:8b", OllamaAnswerShape.Chat, stream: true, showThinking: true, Stopwatch.GetTimestamp(),
            repair ? new ToolCallRepair(["read_file", "get_weather"], "qwen3:8b", NullLogger.Instance) : null)
        { DocumentPathOnly = documentOnly };
        // Past the start of the answer, where the repair has seen text and only watches for <tool_call>.
        Translate(translator, TextEvent);
        return translator;
    }

    private void Translate(ChunkTranslator translator, byte[] data)
    {
        translator.HandleEvent(data);
        // Stream.Null completes synchronously; the flush only hands the written segment back to the pipe.
        var flush = _output.FlushAsync();
        if (!flush.IsCompleted)
        {
            throw new InvalidOperationException("A flush to Stream.Null should complete synchronously.");
        }
    }
}
