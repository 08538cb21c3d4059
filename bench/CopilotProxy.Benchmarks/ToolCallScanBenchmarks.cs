using System.Text;
using BenchmarkDotNet.Attributes;
using CopilotProxy.ToolCalls;
using Microsoft.Extensions.Logging.Abstractions;

namespace CopilotProxy.Benchmarks;

/// <summary>
/// The tool-call repair's own share of relaying plain text: one answer's 200 content deltas through
/// <see cref="ToolCallRepair.Append(ReadOnlySpan{byte})"/>, with every format enabled. The relay around it is the same
/// with or without formats, so this is the part the formats can change; per delta = Mean / 200. Deltas without a byte
/// any marker starts with take the fast path; the few with <c>&lt;</c> (" &lt;=", " &lt;") take the scanner's.
/// </summary>
/// <remarks>dotnet run -c Release --project bench/CopilotProxy.Benchmarks -- --filter '*ToolCallScan*' --inProcess</remarks>
[MemoryDiagnoser]
public class ToolCallScanBenchmarks
{
    private static readonly string[] Words =
        ["The", " function", " walks", " the", " list", " and", " returns", " the", " index", " of", " the", " first", " match", ";", " the",
         " loop", " bound", " `i", " <=", " n`", " reads", " one", " past", " the", " end", ".", " Use", " `i", " <", " n`", "."];

    private byte[][] _deltas = null!;

    [GlobalSetup]
    public void Setup() => _deltas = [.. Enumerable.Range(0, 200).Select(i => Encoding.UTF8.GetBytes(Words[i % Words.Length]))];

    [Benchmark]
    public int PlainTextDeltas()
    {
        using var repair = new ToolCallRepair(["read_file", "run_in_terminal", "grep_search"], "qwen/qwen3-8b", NullLogger.Instance);
        var passed = 0;
        foreach (var delta in _deltas)
        {
            passed += repair.Append(delta) ? delta.Length : repair.Released.Length;
        }

        repair.Finish(truncated: false);
        return passed + repair.Released.Length;
    }
}
