using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.Json;
using CopilotProxy.Ollama;
using CopilotProxy.Ollama.Wire;
using CopilotProxy.OpenAI;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Fuzz;

/// <summary>
/// What the fuzzer drives: the first byte picks a target, the rest is its input. Every target must return normally on
/// any input; an exception escaping one is a crash (a 500 or a dead stream in the real proxy). The test project replays
/// every saved crash through the same code (Reliability/FuzzRegressionTests). Targets: 0 chat, 1 generate, 2 embed, 3 SSE
/// into the relay, 4 into /api/chat, 5 and 6 the same with the tool-call repair, 7 Responses, 8 Messages (both with the
/// repair and reasoning written as text), 9 the reasoning splitter alone, 10 and 11 the relay and /api/chat with reasoning
/// written as text and the repair.
/// </summary>
public static class FuzzTargets
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var data = input[1..];
        switch (input[0] % 16)
        {
            case 0:
                ChatRequest(data);
                break;
            case 1:
                GenerateRequest(data);
                break;
            case 2:
                EmbedRequest(data);
                break;
            case 3:
                Sse(data, Sink.Relay);
                break;
            case 4:
                Sse(data, Sink.Translation);
                break;
            case 5:
                Sse(data, Sink.RelayWithRepair);
                break;
            case 6:
                Sse(data, Sink.TranslationWithRepair);
                break;
            case 7:
                Sse(data, Sink.Responses);
                break;
            case 8:
                Sse(data, Sink.Messages);
                break;
            case 9:
                ReasoningFuzzTarget.Run(data);
                break;
            case 10:
                Sse(data, Sink.RelayWithReasoning);
                break;
            case 11:
                Sse(data, Sink.TranslationWithReasoning);
                break;
            default:
                Repair(data, Families[input[0] % 16 - 12]);
                break;
        }
    }

    /// <summary>What an upstream body is fed into. The repairing sinks and the event relays get tools offered, so the tool-call repair runs.</summary>
    private enum Sink
    {
        Relay,
        Translation,
        RelayWithRepair,
        TranslationWithRepair,
        Responses,
        Messages,
        RelayWithReasoning,
        TranslationWithReasoning,
    }

    private static readonly OfferedTool[] Tools = ["read_file", "grep"];

    /// <summary>The tool-call formats by family, one fuzz target each: JSON in markers, XML-like tags, special tokens, literal syntax.</summary>
    private static readonly ToolCallFormats[] Families =
    [
        ToolCallFormats.Only("hermes", "mistral", "llama3", "granite", "phi4-mini", "json"),
        ToolCallFormats.Only("qwen3-coder", "seed-oss", "glm", "minimax-m2"),
        ToolCallFormats.Only("deepseek", "kimi-k2", "harmony"),
        ToolCallFormats.Only("pythonic", "gemma4"),
    ];

    // Typed parameters, so the schema typing of string arguments runs too.
    private static readonly JsonDocument Schemas = JsonDocument.Parse(
        """[{"type":"function","function":{"name":"read_file","parameters":{"type":"object","properties":{"path":{"type":"string"},"line":{"type":"integer"},"all":{"type":"boolean"},"ratio":{"type":"number"},"tags":{"type":"array"},"opts":{"type":"object"},"note":{"type":["string","null"]}}}}},{"type":"function","function":{"name":"grep"}}]""");

    private static readonly OfferedTool[] TypedTools = OfferedTool.FromChatTools(Schemas.RootElement.EnumerateArray());

    /// <summary>
    /// Content straight into the tool-call repair with one family of formats enabled: the first byte is the delta size
    /// (odd: the token limit ends the answer), the rest the content. Whatever the content, what the repair releases plus
    /// the calls must account for it, and every call's arguments must be one JSON object.
    /// </summary>
    private static void Repair(ReadOnlySpan<byte> data, ToolCallFormats formats)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var chunk = Math.Max(1, data[0] >> 1);
        var content = data[1..];
        using var repair = new ToolCallRepair(TypedTools, "client-model", NullLogger.Instance, formats);
        var sent = new List<byte>();
        for (var at = 0; at < content.Length; at += chunk)
        {
            var delta = content.Slice(at, Math.Min(chunk, content.Length - at));
            sent.AddRange(repair.Append(delta) ? delta : repair.Released);
        }

        repair.Finish(truncated: (data[0] & 1) == 1);
        sent.AddRange(repair.Released);
        if (repair.Calls.Count == 0 && !content.SequenceEqual(sent.ToArray()))
        {
            throw new InvalidOperationException("The repair changed content that yielded no call.");
        }

        foreach (var call in repair.Calls)
        {
            using var arguments = JsonDocument.Parse(call.Arguments);
            if (arguments.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidOperationException($"The arguments of {call.Name} are not one JSON object: {call.Arguments}");
            }
        }
    }

    /// <summary>The /api/chat reader and everything the proxy does with a request before sending it upstream.</summary>
    private static void ChatRequest(ReadOnlySpan<byte> data)
    {
        if (Deserialize(data, OllamaJsonContext.Default.ChatRequest) is not { } request)
        {
            return;
        }

        var messages = request.Messages ?? [];
        if (ChatTranslation.FindNull(messages) is not null
            || ChatTranslation.ValidateFormat(request.Format) is not null
            || ChatTranslation.ValidateImages(messages.SelectMany(m => m.Images ?? [])) is not null)
        {
            return;
        }

        if (!ChatTranslation.TryParseThink(request.Think, out var think, out _))
        {
            return;
        }

        // The request the handler sends upstream, written by the same code.
        ChatTranslation.WriteRequest(request, new UpstreamRequestSettings("upstream-model", think, SendReasoning: true, TtlSeconds: 300),
            new System.Buffers.ArrayBufferWriter<byte>());
    }

    private static void GenerateRequest(ReadOnlySpan<byte> data)
    {
        if (Deserialize(data, OllamaJsonContext.Default.GenerateRequest) is not { } request)
        {
            return;
        }

        _ = ChatTranslation.ValidateFormat(request.Format) ?? ChatTranslation.ValidateImages(request.Images);
        _ = ChatTranslation.TryParseThink(request.Think, out _, out _);
    }

    private static void EmbedRequest(ReadOnlySpan<byte> data) => _ = Deserialize(data, OllamaJsonContext.Default.EmbedRequest);

    /// <summary>
    /// An upstream body through the SSE reader into a relay or the /api/chat translation. The first byte is the read size,
    /// so the fuzzer also explores where reads cut events (and where a tool call written as text is cut).
    /// </summary>
    private static void Sse(ReadOnlySpan<byte> data, Sink target)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var chunk = Math.Max(1, (int)data[0]);
        var body = data[1..].ToArray();
        var client = PipeWriter.Create(Stream.Null);
        using var events = new SseEventReader();
        using var repair = target is Sink.Relay or Sink.Translation ? null : new ToolCallRepair(Tools, "client-model", NullLogger.Instance);
        // Reasoning written as text, every form, ahead of the repair (REASONING_TAGS).
        var reasoning = target is Sink.RelayWithReasoning or Sink.TranslationWithReasoning
            ? ReasoningEvents.For(CopilotProxy.Configuration.ReasoningFormats.Auto, "client-model", NullLogger.Instance)
            : null;
        // The Responses and Messages relays run as they do by default: the repair with reasoning taken out ahead of it.
        using var eventReasoning = target switch
        {
            Sink.Responses => new ResponsesReasoning(new CopilotProxy.Reasoning.ReasoningSplitter(CopilotProxy.Configuration.ReasoningFormats.Auto)),
            Sink.Messages => (IEventStreamReasoning)new MessagesReasoning(new CopilotProxy.Reasoning.ReasoningSplitter(CopilotProxy.Configuration.ReasoningFormats.Auto)),
            _ => null,
        };
        IUpstreamEventSink sink = target switch
        {
            Sink.Relay or Sink.RelayWithRepair or Sink.RelayWithReasoning => new SseRelay(client, "client-model", NullLogger.Instance, repair: repair, reasoning: reasoning),
            Sink.Translation or Sink.TranslationWithRepair or Sink.TranslationWithReasoning => new ChunkTranslator(client, "client-model", OllamaAnswerShape.Chat,
                stream: true, showThinking: true, Stopwatch.GetTimestamp(), repair)
            { Reasoning = reasoning },
            Sink.Responses => new EventStreamRelay(client, EventApi.Responses, "client-model", repair) { Reasoning = eventReasoning },
            _ => new EventStreamRelay(client, EventApi.Messages, "client-model", repair) { Reasoning = eventReasoning },
        };
        try
        {
            var position = 0;
            while (true)
            {
                var buffer = events.GetReadBuffer().Span;
                var n = Math.Min(Math.Min(chunk, buffer.Length), body.Length - position);
                body.AsSpan(position, n).CopyTo(buffer);
                position += n;
                var ended = n == 0;
                if (!ended)
                {
                    events.Advance(n);
                }

                if (!events.Dispatch(sink, ended, out _) || ended)
                {
                    break;
                }
            }

            if (sink is ChunkTranslator translator)
            {
                translator.WriteDone();
            }
            else if (sink is EventStreamRelay { Finished: false } relay)
            {
                // What EventApiRelay does when the upstream closes early: held text is released before the error event.
                relay.WriteError("The upstream closed the stream before its last event.", "upstream_error");
            }
        }
        finally
        {
            (sink as IDisposable)?.Dispose();
        }
    }

    private static T? Deserialize<T>(ReadOnlySpan<byte> data, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(data, type);
        }
        catch (JsonException)
        {
            // The proxy answers 400 to malformed JSON; not a crash.
            return null;
        }
    }
}
