using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using CopilotProxy.OpenAI;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Benchmarks;

/// <summary>
/// What TOOL_CALL_REPAIR costs a plain text answer to a request with tools (Copilot's agent mode sends tools on every
/// request): the proxy's share of the time to first token, from the upstream's first event to its bytes in the client's
/// writer (reading the request's tool names, setting up the relay, relaying the first event), and the cost of a whole
/// 200-token stream. Repair=False is the relay without the repair; the difference is the extra time. Repair=True has
/// every tool-call format enabled (auto, the default), so the scanner watches for all of their start markers.
/// </summary>
/// <remarks>dotnet run -c Release --project bench/CopilotProxy.Benchmarks -- --filter '*ToolCallRepair*'</remarks>
[MemoryDiagnoser]
public class ToolCallRepairBenchmarks
{
    private const string ClientModel = "qwen/qwen3-8b:latest";

    private static readonly byte[] CopilotRequest = Encoding.UTF8.GetBytes(
        """{"model":"qwen/qwen3-8b:latest","messages":[{"role":"user","content":"Explain this function."}],"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"read_file","description":"Read a file","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}},{"type":"function","function":{"name":"run_in_terminal","description":"Run a command","parameters":{"type":"object","properties":{"command":{"type":"string"}}}}},{"type":"function","function":{"name":"grep_search","description":"Search","parameters":{"type":"object","properties":{"query":{"type":"string"}}}}}]}""");

    private static readonly string[] Words =
        ["The", " function", " walks", " the", " list", " and", " returns", " the", " index", " of", " the", " first", " match", ";", " the",
         " loop", " bound", " `i", " <=", " n`", " reads", " one", " past", " the", " end", ".", " Use", " `i", " <", " n`", "."];

    private JsonDocument _request = null!;
    private PipeWriter _output = null!;
    private byte[] _firstEvent = null!;
    private byte[][] _stream = null!;

    [Params(false, true)]
    public bool Repair { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _request = JsonDocument.Parse(CopilotRequest);
        _output = PipeWriter.Create(Stream.Null);
        _firstEvent = Event(Words[0], null);
        var events = new List<byte[]>();
        for (var i = 0; i < 200; i++)
        {
            events.Add(Event(Words[i % Words.Length], null));
        }

        events.Add(Event("", "stop"));
        events.Add("[DONE]"u8.ToArray());
        _stream = [.. events];
    }

    [GlobalCleanup]
    public void Cleanup() => _request.Dispose();

    /// <summary>The proxy's part of the time to first token: tool names, relay set-up, the first event relayed and flushed.</summary>
    [Benchmark]
    public void FirstToken()
    {
        using var relay = NewRelay();
        relay.HandleEvent(_firstEvent);
        Flush();
    }

    /// <summary>A whole plain-text answer of 200 tokens, each event relayed and flushed.</summary>
    [Benchmark]
    public void PlainTextStream()
    {
        using var relay = NewRelay();
        foreach (var data in _stream)
        {
            relay.HandleEvent(data);
            Flush();
        }
    }

    private SseRelay NewRelay()
    {
        ToolCallRepair? repair = null;
        if (Repair)
        {
            var tools = RepairedToolCalls.OfferedTools(_request.RootElement);
            repair = tools.Length > 0 ? new ToolCallRepair(tools, ClientModel, NullLogger.Instance) : null;
        }

        return new SseRelay(_output, ClientModel, NullLogger.Instance, repair: repair);
    }

    private void Flush()
    {
        // Stream.Null completes synchronously; the flush only hands the written segment back to the pipe.
        var flush = _output.FlushAsync();
        if (!flush.IsCompleted)
        {
            throw new InvalidOperationException("A flush to Stream.Null should complete synchronously.");
        }
    }

    /// <summary>An LM Studio text event; the words need no JSON escaping.</summary>
    private static byte[] Event(string content, string? finish) => Encoding.UTF8.GetBytes(
        "{\"id\":\"chatcmpl-RRcsyktMqLpkz9PH4KJyIsU9fekifE2t\",\"object\":\"chat.completion.chunk\",\"created\":1795672868,\"model\":\"qwen/qwen3-8b\",\"system_fingerprint\":\"qwen/qwen3-8b\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
        + "\"" + content + "\"},\"logprobs\":null,\"finish_reason\":" + (finish is null ? "null" : "\"" + finish + "\"") + "}]}");
}
