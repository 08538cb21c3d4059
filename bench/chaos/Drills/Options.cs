using System.Globalization;

namespace CopilotProxy.Bench.Drills;

internal sealed class Options
{
    public string Verb { get; private set; } = "";

    public string ProxyExe { get; private set; } = "";

    public string Out { get; private set; } = "";

    public bool Short { get; private set; }

    public TimeSpan Duration { get; private set; } = TimeSpan.FromMinutes(30);

    public TimeSpan Interval { get; private set; } = TimeSpan.FromSeconds(10);

    public TimeSpan WarmUp { get; private set; } = TimeSpan.FromSeconds(60);

    public int Concurrency { get; private set; } = 100;

    public int Tokens { get; private set; } = 32;

    public int DelayMs { get; private set; } = 20;

    public Dictionary<string, string> ProxyEnv { get; } = [];

    public static Options Parse(string[] args)
    {
        var o = new Options { Verb = args.Length > 0 ? args[0] : "" };
        for (var i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--proxy-exe": o.ProxyExe = Next(); break;
                case "--out": o.Out = Next(); break;
                case "--short": o.Short = true; break;
                case "--seconds": o.Duration = TimeSpan.FromSeconds(int.Parse(Next(), CultureInfo.InvariantCulture)); break;
                case "--interval": o.Interval = TimeSpan.FromSeconds(int.Parse(Next(), CultureInfo.InvariantCulture)); break;
                case "--warm-up": o.WarmUp = TimeSpan.FromSeconds(int.Parse(Next(), CultureInfo.InvariantCulture)); break;
                case "--concurrency": o.Concurrency = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--tokens": o.Tokens = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--delay-ms": o.DelayMs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--env":
                    var pair = Next();
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    o.ProxyEnv[pair[..eq]] = pair[(eq + 1)..];
                    break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }

        if (o.ProxyExe.Length == 0 || o.Out.Length == 0)
        {
            throw new ArgumentException("--proxy-exe and --out are required");
        }

        return o;
    }
}
