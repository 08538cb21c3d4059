using CopilotProxy.Bench.Drills;

// drills chaos --proxy-exe PATH --out DIR [--short]
// drills soak  --proxy-exe PATH --out DIR [--seconds N] [--concurrency N] [--interval N] [--warm-up N]
Options options;
try
{
    options = Options.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"drills: {ex.Message}");
    return 64;
}

return options.Verb switch
{
    "chaos" => await Chaos.RunAsync(options),
    "soak" => await Soak.RunAsync(options),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: drills chaos|soak --proxy-exe PATH --out DIR [options]");
    return 64;
}
