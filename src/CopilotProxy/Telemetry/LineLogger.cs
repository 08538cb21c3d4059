using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Telemetry;

/// <summary>Where the proxy's own log providers (the console, LOG_DIR's files) take each line.</summary>
internal interface ILogLineSink
{
    /// <summary>False when the sink builds the request line from its fields alone, so its message is never formatted.</summary>
    bool NeedsRequestMessage { get; }

    void Add(in LogLine entry);
}

/// <summary>
/// The logger both providers hand out. <c>Log&lt;TState&gt;</c> is compiled once per state type, so it only takes the entry
/// apart; the sink does the rest in non-generic code.
/// </summary>
internal sealed class LineLogger(ILogLineSink sink, string category) : ILogger
{
    /// <summary>Microsoft.Extensions.Hosting's event for a hosted service that failed to start.</summary>
    private const int HostStartFailedEventId = 11;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    // Microsoft.Extensions.Logging has already applied LOG_LEVEL and the category filters.
    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel) && !IsHostStartFailure(eventId.Id, category))
        {
            var withMessage = sink.NeedsRequestMessage || !ConsoleFormats.IsRequestLine(eventId.Id, category);
            sink.Add(LogLine.From(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), withMessage));
        }
    }

    /// <summary>
    /// The host's "Hosting failed to start", whose exception the command line reports itself (Hosting/CommandHandlers):
    /// a port it cannot open as one line with the fix, anything else whole. Logged as well, a port in use printed a wall
    /// of stack-trace addresses above that one line.
    /// </summary>
    private static bool IsHostStartFailure(int eventId, string category) =>
        eventId == HostStartFailedEventId && category == "Microsoft.Extensions.Hosting.Internal.Host";
}
