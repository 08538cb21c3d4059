using BenchmarkDotNet.Running;
using CopilotProxy.Benchmarks;

// dotnet run -c Release --project bench/CopilotProxy.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(RelayBenchmarks).Assembly).Run(args);
