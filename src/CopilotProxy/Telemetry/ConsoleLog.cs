using System.Collections.Concurrent;
using System.Globalization;
using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Telemetry;

/// <summary>
/// The console sink: each line is formatted on the thread that logs it and written to stdout by one writer thread, so a
/// slow terminal or log driver never holds a request up until the queue is full, as with Microsoft's console logger.
/// </summary>
/// <remarks>
/// It replaces <c>AddConsole</c>, which compiled its own logger and three built-in formatters (simple, systemd, JSON, none of
/// them used) once per state type, plus the options and reload machinery around them: 0.2 MB of the binary for a queue
/// and a thread. Like that logger it waits when 1,024 lines are queued rather than drop any, and it writes what is
/// queued before the process exits.
/// </remarks>
public sealed class ConsoleLog : ILoggerProvider, ILogLineSink
{
    private const int QueueLength = 1024;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(1.5);

    private readonly BlockingCollection<string> _lines = new(QueueLength);
    private readonly TextWriter _output;
    private readonly ProxyTextConsoleFormatter? _text;
    private readonly Thread _writer;
    // A line logged after Dispose is written by its own thread while the writer may still be draining (Join gives up after
    // DrainTimeout); without this, the two could split each other's lines on a TextWriter that is not synchronized.
    private readonly Lock _writing = new();

    public ConsoleLog(LogFormat format, TextWriter output, bool colors)
    {
        _output = output;
        _text = format == LogFormat.Text ? new ProxyTextConsoleFormatter(colors) : null;
        _writer = new Thread(WriteLines) { IsBackground = true, Name = "console log" };
        _writer.Start();
    }

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    bool ILogLineSink.NeedsRequestMessage => _text is null;

    public void Dispose()
    {
        _lines.CompleteAdding();
        _writer.Join(DrainTimeout);
    }

    void ILogLineSink.Add(in LogLine entry)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        if (_text is { } human)
        {
            human.Write(entry, text);
        }
        else
        {
            ProxyJsonConsoleFormatter.Write(entry, text);
        }

        if (text.GetStringBuilder().Length == 0)
        {
            return;
        }

        try
        {
            _lines.Add(text.ToString());
        }
        catch (InvalidOperationException)
        {
            // Logged after Dispose, while the host shuts down: the line can only go straight out.
            WriteLine(text.ToString());
        }
    }

    private void WriteLines()
    {
        foreach (var line in _lines.GetConsumingEnumerable())
        {
            WriteLine(line);
        }
    }

    private void WriteLine(string line)
    {
        lock (_writing)
        {
            try
            {
                _output.Write(line);
                _output.Flush();
            }
            catch (IOException)
            {
                // stdout is gone (a closed pipe): the lines are lost, but the proxy keeps serving.
            }
        }
    }
}
