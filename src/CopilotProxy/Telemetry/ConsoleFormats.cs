using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace CopilotProxy.Telemetry;

/// <summary>Which console form LOG_FORMAT=auto picks, and the event the request log line uses.</summary>
public static class ConsoleFormats
{
    public const string JsonName = "proxy-json";
    public const string TextName = "proxy-text";

    /// <summary>The request log line's event id (Http/RequestLog); the text form gives it its own compact shape.</summary>
    public const int RequestCompletedEventId = 400;

    /// <summary>
    /// Text for a person at a terminal, JSON for machines: a container's log driver, a pipe, a file. DEV_MODE asks for
    /// the human form too, as it always has.
    /// </summary>
    public static LogFormat Choose(LogFormat setting, bool devMode, bool stdoutIsTerminal, bool inContainer) => setting switch
    {
        LogFormat.Json or LogFormat.Text => setting,
        _ when devMode => LogFormat.Text,
        _ when inContainer || !stdoutIsTerminal => LogFormat.Json,
        _ => LogFormat.Text,
    };

    /// <summary>The request log line (Http/RequestLog), which the text form writes in its own compact shape.</summary>
    internal static bool IsRequestLine(int eventId, string category) => eventId == RequestCompletedEventId && category == "CopilotProxy.Requests";

    /// <summary>The state's fields, without the message template the logging generator adds.</summary>
    internal static IEnumerable<KeyValuePair<string, object?>> Fields(IReadOnlyList<KeyValuePair<string, object?>>? fields)
    {
        if (fields is null)
        {
            yield break;
        }

        foreach (var field in fields)
        {
            if (field.Key != "{OriginalFormat}")
            {
                yield return field;
            }
        }
    }
}

/// <summary>
/// One log entry with its state already taken apart. The formatters' <c>Write&lt;TState&gt;</c> is compiled once per
/// state type (every logging-generator message with value-type arguments is one), so each keeps only the lines that make
/// this record and does the writing in one non-generic method: 0.2 MB less binary than formatting inside the generic one.
/// </summary>
internal readonly record struct LogLine(LogLevel Level, string Category, int EventId, string? Message, IReadOnlyList<KeyValuePair<string, object?>>? Fields, Exception? Exception)
{
    /// <summary>The entry; <paramref name="withMessage"/> false leaves the message template unformatted, for a line built from its fields alone.</summary>
    public static LogLine From<TState>(in LogEntry<TState> entry, bool withMessage = true) =>
        new(entry.LogLevel, entry.Category, entry.EventId.Id, withMessage ? entry.Formatter(entry.State, entry.Exception) : null, entry.State as IReadOnlyList<KeyValuePair<string, object?>>, entry.Exception);

    public bool IsRequestLine => ConsoleFormats.IsRequestLine(EventId, Category);
}

/// <summary>One JSON object per line, each field once: time, level, category, event id, message, then the message's fields.</summary>
public sealed class ProxyJsonConsoleFormatter() : ConsoleFormatter(ConsoleFormats.JsonName)
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter) =>
        Write(LogLine.From(logEntry), textWriter);

    internal static void Write(in LogLine entry, TextWriter textWriter)
    {
        var message = entry.Message;
        if (message is null && entry.Exception is null)
        {
            return;
        }

        using var buffer = new MemoryStream(256);
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow);
            json.WriteString("level", entry.Level.ToString());
            json.WriteString("category", entry.Category);
            if (entry.EventId != 0)
            {
                json.WriteNumber("event_id", entry.EventId);
            }

            json.WriteString("message", message);
            foreach (var (key, value) in ConsoleFormats.Fields(entry.Fields))
            {
                WriteValue(json, key, value);
            }

            if (entry.Exception is { } exception)
            {
                json.WriteString("exception", exception.ToString());
            }

            json.WriteEndObject();
        }

        textWriter.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        textWriter.Write(Environment.NewLine);
    }

    private static void WriteValue(Utf8JsonWriter json, string key, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNull(key);
                break;
            case bool b:
                json.WriteBoolean(key, b);
                break;
            case int i:
                json.WriteNumber(key, i);
                break;
            case long l:
                json.WriteNumber(key, l);
                break;
            case double d when double.IsFinite(d):
                json.WriteNumber(key, d);
                break;
            case IFormattable formattable:
                json.WriteString(key, formattable.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                json.WriteString(key, value.ToString());
                break;
        }
    }
}

/// <summary>
/// The form for a person at a terminal: one short line per request (<c>11:02:03 POST /v1/chat/completions qwen3-8b 200
/// ttft 412 ms 38 tok/s 12.3 s</c>), and other events as time, level and message.
/// </summary>
public sealed class ProxyTextConsoleFormatter : ConsoleFormatter
{
    private readonly bool _colors;

    public ProxyTextConsoleFormatter()
        : this(colors: !Console.IsOutputRedirected)
    {
    }

    public ProxyTextConsoleFormatter(bool colors)
        : base(ConsoleFormats.TextName) => _colors = colors;

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter) =>
        // The request line is built from the fields alone: its message is never formatted.
        Write(LogLine.From(logEntry, withMessage: !ConsoleFormats.IsRequestLine(logEntry.EventId.Id, logEntry.Category)), textWriter);

    private static string Now() => DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    internal void Write(in LogLine entry, TextWriter textWriter)
    {
        if (entry.IsRequestLine)
        {
            textWriter.WriteLine(Now() + " " + RequestLine(ConsoleFormats.Fields(entry.Fields).ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal)));
            return;
        }

        var (label, color) = entry.Level switch
        {
            LogLevel.Trace => ("trace", "\e[90m"),
            LogLevel.Debug => ("debug", "\e[90m"),
            LogLevel.Information => ("info ", ""),
            LogLevel.Warning => ("warn ", "\e[33m"),
            LogLevel.Error => ("error", "\e[31m"),
            _ => ("crit ", "\e[1;31m"),
        };
        textWriter.Write(Now());
        textWriter.Write(' ');
        textWriter.Write(_colors && color.Length > 0 ? color + label + "\e[0m" : label);
        textWriter.Write(' ');
        textWriter.WriteLine(entry.Message);
        if (entry.Exception is { } exception)
        {
            // The stack trace matters for a bug report, so errors keep it; a warning's cause is enough for a person.
            var text = entry.Level >= LogLevel.Error ? exception.ToString() : exception.GetType().Name + ": " + exception.Message;
            foreach (var line in text.Split('\n'))
            {
                textWriter.Write("      ");
                textWriter.WriteLine(line.TrimEnd('\r'));
            }
        }
    }

    /// <summary>The request log line's fields in the compact human form; absent figures are left out rather than shown as dashes.</summary>
    public static string RequestLine(IReadOnlyDictionary<string, object?> fields)
    {
        var line = new System.Text.StringBuilder(96);
        line.Append(fields.GetValueOrDefault("Method")).Append(' ').Append(fields.GetValueOrDefault("Route"));
        if (fields.GetValueOrDefault("ClientModel") is string model && model != "-")
        {
            line.Append(' ').Append(model);
        }

        line.Append(' ').Append(Convert.ToString(fields.GetValueOrDefault("Status"), CultureInfo.InvariantCulture));
        if (fields.GetValueOrDefault("TimeToFirstTokenMs") is double ttft)
        {
            line.Append(CultureInfo.InvariantCulture, $" ttft {ttft:0} ms");
        }

        if (fields.GetValueOrDefault("TokensPerSecond") is double rate)
        {
            line.Append(CultureInfo.InvariantCulture, $" {rate:0} tok/s");
        }

        if (fields.GetValueOrDefault("TotalMs") is double total)
        {
            line.Append(' ').Append(total >= 1000 ? string.Create(CultureInfo.InvariantCulture, $"{total / 1000:0.0} s") : string.Create(CultureInfo.InvariantCulture, $"{total:0} ms"));
        }

        if (fields.GetValueOrDefault("Failure") is string failure && failure != "none")
        {
            line.Append(" failed: ").Append(failure);
        }

        return line.ToString();
    }
}
