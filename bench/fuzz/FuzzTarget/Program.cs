using CopilotProxy.Fuzz;
using SharpFuzz;

// fuzz-target                 run under afl-fuzz (bench/fuzz/run.sh): one input per iteration from standard input
// fuzz-target --replay DIR    run every file in DIR once (crash triage; the tests do the same)
if (args is ["--replay", var dir])
{
    foreach (var file in Directory.GetFiles(dir))
    {
        Console.WriteLine(file);
        FuzzTargets.Run(File.ReadAllBytes(file));
    }

    return;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    FuzzTargets.Run(memory.ToArray());
});
