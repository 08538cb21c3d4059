using System.Globalization;
using System.Text;
using CopilotProxy.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Telemetry;

/// <summary>
/// The LOG_DIR sink: the console's JSON lines in size-capped files, a fixed number kept, so a busy proxy never fills the
/// disk. <c>copilot-proxy.log</c> is written; once a line takes it to the cap it becomes <c>copilot-proxy_NN.log</c> (the
/// highest number is the newest) and the oldest files beyond <c>LOG_MAX_FILES</c> are deleted.
/// </summary>
/// <remarks>
/// It replaced NLog, which cost 2.4 MB of the binary (with the System.Linq.Expressions and reflection it kept) for what is one
/// writer, one lock and one rename; the lines are now the very ones the JSON console writes. Each line is written and
/// flushed before <c>Log</c> returns, as NLog's default file target did, so a crash loses nothing already logged. A disk
/// that fails (full, directory removed) costs the file lines only: the console still has them, and the proxy keeps serving.
/// </remarks>
public sealed class LogFiles : ILoggerProvider, ILogLineSink
{
    public const string FileName = "copilot-proxy.log";
    private const string ArchivePrefix = "copilot-proxy_";

    private readonly Lock _gate = new();
    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly int _maxFiles;
    private FileStream? _file;
    private bool _disposed;

    private LogFiles(string directory, long maxBytes, int maxFiles)
    {
        _directory = directory;
        _maxBytes = maxBytes;
        _maxFiles = maxFiles;
    }

    /// <summary>A provider of its own, so two proxies in one process (tests) never share a file.</summary>
    public static LogFiles CreateProvider(ProxySettings settings, string directory) =>
        new(directory, settings.LogFileSizeBytes, settings.LogFileCount);

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    bool ILogLineSink.NeedsRequestMessage => true;

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _file?.Dispose();
            _file = null;
        }
    }

    void ILogLineSink.Add(in LogLine entry)
    {
        // Formatted outside the lock: only the write and the roll are serialised.
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        ProxyJsonConsoleFormatter.Write(entry, text);
        if (text.GetStringBuilder().Length == 0)
        {
            return;
        }

        var line = Encoding.UTF8.GetBytes(text.ToString());
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                _file ??= Open();
                _file.Write(line);
                _file.Flush();
                if (_file.Length >= _maxBytes)
                {
                    Roll();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _file?.Dispose();
                _file = null;
            }
        }
    }

    private FileStream Open()
    {
        Directory.CreateDirectory(_directory);
        return new FileStream(Path.Combine(_directory, FileName), FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 0);
    }

    private void Roll()
    {
        _file!.Dispose();
        _file = null;
        var archives = Archives();
        var next = archives.Count == 0 ? 1 : archives[^1].Number + 1;
        File.Move(Path.Combine(_directory, FileName), Path.Combine(_directory, $"{ArchivePrefix}{next:D2}.log"));
        archives.Add((next, Path.Combine(_directory, $"{ArchivePrefix}{next:D2}.log")));

        // The next line opens a new current file: it counts as one of LOG_MAX_FILES.
        for (var i = 0; i < archives.Count - (_maxFiles - 1); i++)
        {
            File.Delete(archives[i].Path);
        }
    }

    /// <summary>The archives, oldest first.</summary>
    private List<(int Number, string Path)> Archives()
    {
        var archives = new List<(int Number, string Path)>();
        foreach (var path in Directory.EnumerateFiles(_directory, ArchivePrefix + "*.log"))
        {
            var name = Path.GetFileNameWithoutExtension(path.AsSpan())[ArchivePrefix.Length..];
            if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                archives.Add((number, path));
            }
        }

        archives.Sort((a, b) => a.Number.CompareTo(b.Number));
        return archives;
    }
}
