using System.Buffers;
using System.Text.Json;
using CopilotProxy.ToolCalls;
using CopilotProxy.Upstream;

namespace CopilotProxy.OpenAI;

/// <summary>The two upstream APIs whose streams are typed, named events rather than chat-completion chunks.</summary>
public enum EventApi
{
    /// <summary>OpenAI's Responses API (<c>/v1/responses</c>; LM Studio 0.3.29+).</summary>
    Responses,

    /// <summary>Anthropic's Messages API (<c>/v1/messages</c>; LM Studio 0.4.1+).</summary>
    Messages,
}

/// <summary>
/// Relays a Responses or Messages stream one event at a time: the model name goes back to the one the client asked for,
/// usage and the finish reason are captured for the request log and metrics, and errors leave as that API's own event
/// (<c>response.failed</c>, Anthropic's <c>error</c>), which both APIs' SDKs surface instead of a silent end.
/// </summary>
/// <remarks>
/// Each event is written as <c>event: {type}</c> and <c>data: {json}</c>: the name is taken from the data's own
/// <c>type</c>, because Anthropic's SDKs dispatch on the <c>event:</c> line while the upstream reader hands over data
/// only. Nothing is buffered across events; the caller flushes after each upstream read.
/// </remarks>
public sealed partial class EventStreamRelay(IBufferWriter<byte> output, EventApi api, string clientModel, ToolCallRepair? repair = null) : IUpstreamEventSink
{
    private long _nextSequence;
    private string? _responseId;
    private bool _replaying;

    /// <summary>
    /// Takes reasoning written as text out of the answer's first text (REASONING_TAGS): <see cref="MessagesReasoning"/> or
    /// <see cref="ResponsesReasoning"/>; not owned.
    /// </summary>
    public IEventStreamReasoning? Reasoning { get; init; }

    private void Replay(IReadOnlyList<byte[]> events) => EventReplay.Run(this, events, ref _replaying);

    public int? InputTokens { get; private set; }
    public int? OutputTokens { get; private set; }

    /// <summary>Responses: the final status (<c>completed</c>, <c>incomplete</c>, <c>failed</c>); Messages: the <c>stop_reason</c>.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>True once the API's last event went out (<c>response.completed</c>/<c>failed</c>/<c>incomplete</c>, <c>message_stop</c>).</summary>
    public bool Finished { get; private set; }

    /// <summary>The message of an error the upstream sent inside the stream, if any.</summary>
    public string? UpstreamError { get; private set; }

    /// <summary>Relays one event's data; false once the stream is over (its last event, or an error).</summary>
    public bool OnEvent(ReadOnlySpan<byte> data)
    {
        JsonDocument document;
        try
        {
            document = StrictJson.Parse(data);
        }
        catch (JsonException)
        {
            // Not JSON ([DONE] from an OpenAI-style upstream, or garbage): neither API defines it, so it is passed on as it came.
            WriteRaw(data);
            return true;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                WriteRaw(data);
                return true;
            }

            var type = root.TryGetProperty("type"u8, out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : null;
            if (type is null && root.TryGetProperty("error"u8, out var bare))
            {
                // llama.cpp-style {"error":{…}} with no type: the same failure in the client's API's shape.
                UpstreamError = ErrorMessage(bare) ?? "The upstream reported an error without a message.";
                WriteError(UpstreamError, "upstream_error");
                return false;
            }

            if (!_replaying && Reasoning is { } reasoning)
            {
                var rewritten = reasoning.TryRewrite(type, root);
                if (reasoning.Events.Count > 0)
                {
                    Replay(reasoning.Events);
                }

                if (rewritten || Finished)
                {
                    return !Finished;
                }
            }

            Observe(type, root);
            if (Renumbers)
            {
                RelayResponses(type, root);
            }
            else if (repair is not null && api == EventApi.Messages && RepairMessages(type, root))
            {
                return !Finished;
            }
            else
            {
                Write(type, root);
            }

            if (type is "error")
            {
                UpstreamError ??= root.TryGetProperty("error"u8, out var e) ? ErrorMessage(e) : ErrorMessage(root);
                return false;
            }

            return !Finished;
        }
    }

    /// <summary>
    /// The proxy's own in-band error (the upstream broke or went silent after the 200): <c>response.failed</c> for the
    /// Responses API, an <c>error</c> event for Messages. Both end the stream for their SDKs.
    /// </summary>
    public void WriteError(string message, string code)
    {
        if (!_replaying && Reasoning is { } reasoning && reasoning.Flush())
        {
            Replay(reasoning.Events);
        }

        ReleaseHeld();
        using var writer = Begin(api == EventApi.Responses ? "response.failed" : "error");
        writer.WriteStartObject();
        if (api == EventApi.Responses)
        {
            writer.WriteString("type"u8, "response.failed");
            writer.WriteNumber("sequence_number"u8, _nextSequence++);
            writer.WriteStartObject("response"u8);
            writer.WriteString("id"u8, _responseId ?? "resp_" + Guid.NewGuid().ToString("N")[..24]);
            writer.WriteString("object"u8, "response");
            writer.WriteString("status"u8, "failed");
            writer.WriteString("model"u8, clientModel);
            writer.WriteStartArray("output"u8);
            writer.WriteEndArray();
            writer.WriteStartObject("error"u8);
            writer.WriteString("code"u8, code);
            writer.WriteString("message"u8, message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteString("type"u8, "error");
            writer.WriteStartObject("error"u8);
            writer.WriteString("type"u8, "api_error");
            writer.WriteString("message"u8, message);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.Flush();
        End();
        Finished = true;
        FinishReason ??= api == EventApi.Responses ? "failed" : "error";
    }

    private void Observe(string? type, JsonElement root)
    {
        if (root.TryGetProperty("sequence_number"u8, out var sequence) && sequence.ValueKind == JsonValueKind.Number && sequence.TryGetInt64(out var n))
        {
            if (Renumbers)
            {
                SeedSequence(n);
            }
            else
            {
                _nextSequence = n + 1;
            }
        }

        switch (api, type)
        {
            case (EventApi.Responses, "response.created" or "response.in_progress" or "response.completed" or "response.incomplete" or "response.failed"):
                if (root.TryGetProperty("response"u8, out var response) && response.ValueKind == JsonValueKind.Object)
                {
                    _responseId ??= response.TryGetProperty("id"u8, out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
                    if (type is not ("response.created" or "response.in_progress"))
                    {
                        Finished = true;
                        FinishReason = response.TryGetProperty("status"u8, out var status) && status.ValueKind == JsonValueKind.String ? status.GetString() : type["response.".Length..];
                        ReadUsage(response, "input_tokens"u8, "output_tokens"u8);
                        if (type == "response.failed" && response.TryGetProperty("error"u8, out var failed))
                        {
                            UpstreamError = ErrorMessage(failed);
                        }
                    }
                }

                break;
            case (EventApi.Messages, "message_start"):
                if (root.TryGetProperty("message"u8, out var message) && message.ValueKind == JsonValueKind.Object)
                {
                    ReadUsage(message, "input_tokens"u8, "output_tokens"u8);
                }

                break;
            case (EventApi.Messages, "message_delta"):
                ReadUsage(root, "input_tokens"u8, "output_tokens"u8);
                if (root.TryGetProperty("delta"u8, out var delta) && delta.ValueKind == JsonValueKind.Object
                    && delta.TryGetProperty("stop_reason"u8, out var stop) && stop.ValueKind == JsonValueKind.String)
                {
                    FinishReason = stop.GetString();
                }

                break;
            case (EventApi.Messages, "message_stop"):
                Finished = true;
                break;
            default:
                break;
        }
    }

    private void ReadUsage(JsonElement owner, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output)
    {
        if (!owner.TryGetProperty("usage"u8, out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (usage.TryGetProperty(input, out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var iv))
        {
            InputTokens = iv;
        }

        if (usage.TryGetProperty(output, out var o) && o.ValueKind == JsonValueKind.Number && o.TryGetInt32(out var ov))
        {
            OutputTokens = ov;
        }
    }

    /// <summary>Writes the event with the model renamed where each API carries it: <c>response.model</c>, <c>message.model</c>.</summary>
    private void Write(string? type, JsonElement root)
    {
        using var writer = Begin(type);
        writer.WriteStartObject();
        foreach (var property in root.EnumerateObject())
        {
            if ((property.NameEquals("response"u8) || property.NameEquals("message"u8)) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName(property.Name);
                WriteRenamed(property.Value, writer);
            }
            else if (property.NameEquals("model"u8) && property.Value.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("model"u8, clientModel);
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
        writer.Flush();
        End();
    }

    private void WriteRenamed(JsonElement value, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var property in value.EnumerateObject())
        {
            if (property.NameEquals("model"u8) && property.Value.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("model"u8, clientModel);
            }
            else
            {
                property.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }

    private Utf8JsonWriter Begin(string? type)
    {
        if (type is not null)
        {
            Append("event: "u8);
            Append(System.Text.Encoding.UTF8.GetBytes(type));
            Append("\n"u8);
        }

        Append("data: "u8);
        return new Utf8JsonWriter(output, RelayJson.WriterOptions);
    }

    private void End() => Append("\n\n"u8);

    private void WriteRaw(ReadOnlySpan<byte> data)
    {
        Append("data: "u8);
        Append(data);
        End();
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        var span = output.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        output.Advance(bytes.Length);
    }

    private static string? ErrorMessage(JsonElement error) => error.ValueKind switch
    {
        JsonValueKind.String => error.GetString(),
        JsonValueKind.Object when error.TryGetProperty("message"u8, out var m) && m.ValueKind == JsonValueKind.String => m.GetString(),
        _ => null,
    };
}
