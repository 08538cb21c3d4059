using System.Buffers;
using System.Text.Json;
using CopilotProxy.OpenAI;

namespace CopilotProxy.Ollama;

/// <summary>
/// Frames Ollama's newline-delimited JSON: one object per line, written straight into the response buffer. The caller
/// flushes after each upstream event, so every line leaves as soon as it is complete.
/// </summary>
public sealed class NdjsonWriter(IBufferWriter<byte> output) : IDisposable
{
    private readonly Utf8JsonWriter _json = new(output, RelayJson.WriterOptions);

    /// <summary>Bytes written since the last <see cref="TakeWritten"/>; tells the caller whether a flush is due.</summary>
    private long _written;

    /// <summary>Starts a line; write exactly one JSON object, then call <see cref="EndLine"/>.</summary>
    public Utf8JsonWriter BeginLine()
    {
        _json.Reset(output);
        return _json;
    }

    public void EndLine()
    {
        _json.Flush();
        _written += _json.BytesCommitted + 1;
        output.Write("\n"u8);
    }

    /// <summary>Writes <c>{"error":"…"}</c> as a line: after a 200 has gone out this is Ollama's only way to report failure.</summary>
    public void WriteError(string message)
    {
        var json = BeginLine();
        json.WriteStartObject();
        json.WriteString("error"u8, message);
        json.WriteEndObject();
        EndLine();
    }

    /// <summary>Whether anything was written since the last call.</summary>
    public bool TakeWritten()
    {
        var any = _written > 0;
        _written = 0;
        return any;
    }

    public void Dispose() => _json.Dispose();
}
