using System.Buffers;
using System.Buffers.Text;
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

    /// <summary>
    /// Starts a line written as bytes, without the JSON writer: for a line whose every value is already JSON. One
    /// GetSpan/Advance for the whole line (Kestrel's response writer takes a lock on each call), where the JSON writer
    /// and the newline take two.
    /// </summary>
    public Span<byte> BeginRawLine(int maxLength) => output.GetSpan(maxLength);

    /// <summary>Ends a line from <see cref="BeginRawLine"/>; <paramref name="length"/> includes its newline.</summary>
    public void EndRawLine(int length)
    {
        output.Advance(length);
        _written += length;
    }

    /// <summary>The longest timestamp <see cref="WriteTimestamp"/> writes.</summary>
    public const int MaxTimestampLength = 33;

    /// <summary>
    /// Writes a UTC time as <see cref="Utf8JsonWriter.WriteStringValue(DateTime)"/> does, without the quotes: ISO 8601
    /// with the fraction of a second trimmed of trailing zeros (left out when zero). A test holds the two to the same bytes.
    /// </summary>
    public static int WriteTimestamp(DateTime value, Span<byte> destination)
    {
        if (!Utf8Formatter.TryFormat(value, destination, out var length, new StandardFormat('O')))
        {
            throw new ArgumentException("The destination is too short for a timestamp.", nameof(destination));
        }

        // "yyyy-MM-ddTHH:mm:ss.fffffff" then the offset ("Z", "+hh:mm" or nothing).
        const int Dot = 19;
        const int FractionEnd = Dot + 8;
        var keep = FractionEnd;
        while (keep > Dot + 1 && destination[keep - 1] == (byte)'0')
        {
            keep--;
        }

        if (keep == Dot + 1)
        {
            keep = Dot;
        }

        destination[FractionEnd..length].CopyTo(destination[keep..]);
        return length - (FractionEnd - keep);
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
