using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using CopilotProxy.OpenAI;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Benchmarks;

/// <summary>The relay's per-event cost: parse one upstream SSE event, apply Copilot's rules, write it out.</summary>
[MemoryDiagnoser]
public class RelayBenchmarks
{
    private static readonly byte[] TextEvent = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-RRcsyktMqLpkz9PH4KJyIsU9fekifE2t","object":"chat.completion.chunk","created":1795672868,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant","content":" constrained"},"logprobs":null,"finish_reason":null}]}""");

    // The same event a second later: it never matches the remembered shape, so every event takes the full scan.
    private static readonly byte[] TextEventNextSecond = Encoding.UTF8.GetBytes(
        Encoding.UTF8.GetString(TextEvent).Replace("1795672868", "1795672869", StringComparison.Ordinal));

    private static readonly byte[] ToolFragmentEvent = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-exQ7cymzffZ1PfkwQ5mBPoi4uPiQQNMi","object":"chat.completion.chunk","created":1795672868,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"function":{"arguments":"city"}}]},"logprobs":null,"finish_reason":null}]}""");

    private static readonly byte[] ReasoningEvent = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795672868,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me think"},"logprobs":null,"finish_reason":null}]}""");

    private static readonly byte[] CopilotRequest = Encoding.UTF8.GetBytes(
        """{"model":"qwen/qwen3-8b:latest","messages":[{"role":"system","content":"You are an AI programming assistant. Follow the user's requirements carefully and to the letter. Keep your answers short and impersonal."},{"role":"user","content":"Explain what this function does and suggest a fix for the off-by-one error in the loop bound."}],"temperature":0.1,"top_p":1,"n":1,"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"read_file","description":"Read a file","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}}}]}""");

    private PipeWriter _output = null!;
    private SseRelay _relay = null!;
    private JsonDocument _request = null!;
    private PooledBufferWriter _requestBody = null!;

    [GlobalSetup]
    public void Setup()
    {
        _output = PipeWriter.Create(Stream.Null);
        _relay = new SseRelay(_output, "qwen/qwen3-8b:latest", NullLogger.Instance);
        // Prime the tool-call id for index 0, as the first fragment of a real stream would.
        _relay.HandleEvent(Encoding.UTF8.GetBytes(
            """{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"814890118","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"""));
        _request = JsonDocument.Parse(CopilotRequest);
        _requestBody = new PooledBufferWriter();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _relay.Dispose();
        _request.Dispose();
        _requestBody.Dispose();
    }

    private bool _odd;

    /// <summary>A text event like the one before it: the remembered shape matches (<see cref="EventShape"/>), as for most of a stream.</summary>
    [Benchmark(Baseline = true)]
    public void RelayTextEvent() => Relay(TextEvent);

    /// <summary>A text event unlike the one before it (a new second in created): the full scan.</summary>
    [Benchmark]
    public void RelayTextEventNewShape() => Relay((_odd = !_odd) ? TextEventNextSecond : TextEvent);

    [Benchmark]
    public void RelayToolCallFragment() => Relay(ToolFragmentEvent);

    [Benchmark]
    public void RelayReasoningEvent() => Relay(ReasoningEvent);

    /// <summary>Client request → upstream request: parse, rewrite the model, write (a Copilot-sized body).</summary>
    [Benchmark]
    public int RewriteCopilotRequest()
    {
        using var document = JsonDocument.Parse(CopilotRequest);
        _requestBody.Clear();
        JsonRelay.WriteRequest(document.RootElement, "qwen/qwen3-8b", _requestBody);
        return _requestBody.WrittenSpan.Length;
    }

    private void Relay(byte[] data)
    {
        _relay.HandleEvent(data);
        // Stream.Null completes synchronously; the flush only hands the written segment back to the pipe.
        var flush = _output.FlushAsync();
        if (!flush.IsCompleted)
        {
            throw new InvalidOperationException("A flush to Stream.Null should complete synchronously.");
        }
    }
}
