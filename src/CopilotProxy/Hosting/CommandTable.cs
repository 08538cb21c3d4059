using System.Collections;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using CopilotProxy.Configuration;

namespace CopilotProxy.Hosting;

/// <summary>
/// The command line as a table: the root command (the proxy itself) and each command paired with its handler, parsed by
/// System.CommandLine, which gives every command its <c>--help</c>, typo suggestions and completions. A new command is
/// one entry here plus its declaration in <see cref="ProxyCommands"/>.
/// </summary>
internal sealed class CommandTable : IEnumerable<Command>
{
    /// <summary>Exit code of a command line that does not parse: 2, as for invalid settings (1 is "something is broken").</summary>
    public const int UsageError = 2;

    public CommandTable(RootCommand root, Func<ParseResult, CancellationToken, Task<int>> run)
    {
        Root = root;
        Root.SetAction(run);
        var help = root.Options.OfType<HelpOption>().Single();
        var standard = (HelpAction)help.Action!;
        if (Console.IsOutputRedirected)
        {
            // A terminal's width wraps the usage; a file or a pager would get each description on one long line.
            standard.MaxWidth = 100;
        }

        help.Action = new UsageWithSettings(standard);
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion();
    }

    public RootCommand Root { get; }

    public void Add(Command command, Func<ParseResult, CancellationToken, Task<int>> handler)
    {
        command.SetAction(handler);
        Root.Add(command);
    }

    public void Add(Command command, Func<ParseResult, int> handler)
    {
        command.SetAction(handler);
        Root.Add(command);
    }

    public ParseResult Parse(IReadOnlyList<string> args) => Root.Parse(args);

    public async Task<int> InvokeAsync(string[] args)
    {
        var parsed = Parse(args);
        if (parsed.Action is ParseErrorAction)
        {
            // The message, the closest match and the usage all go to stderr: a typo must not look like output to a pipe.
            parsed.Invoke(new InvocationConfiguration { Output = Console.Error, Error = Console.Error });
            return UsageError;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration
        {
            // The proxy's host drains streams on SIGTERM/SIGINT for GRACEFUL_SHUTDOWN_TIMEOUT; System.CommandLine's own
            // handler would cancel the command and exit after 2 s instead.
            ProcessTerminationTimeout = null,
            // An unexpected exception keeps the runtime's crash report instead of becoming a quiet exit code 1.
            EnableDefaultExceptionHandler = false,
        });
    }

    public IEnumerator<Command> GetEnumerator() => Root.Subcommands.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The standard usage, then, for the root command, the settings a first run needs and where the rest are.</summary>
    private sealed class UsageWithSettings(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            standard.Invoke(parseResult);

            // After a typo the usage names the valid commands; the settings would only push the error off the screen.
            if (parseResult.CommandResult.Command is not RootCommand || parseResult.Errors.Count > 0)
            {
                return 0;
            }

            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine("Settings (environment variables, or config.yaml's environment_variables; the environment wins):");
            var width = ProxyCommands.KeySettings.Max(s => s.Name.Length) + 2;
            foreach (var (name, meaning) in ProxyCommands.KeySettings)
            {
                output.WriteLine($"  {name.PadRight(width)}{meaning}");
            }

            output.WriteLine();
            output.WriteLine("Every setting, its default and accepted values: docs/configuration.md");
            output.WriteLine("(https://github.com/jsirish/lmstudio-copilot-proxy/blob/main/docs/configuration.md).");
            return 0;
        }
    }

    /// <summary>Prints <see cref="ProductVersion.Current"/>, the string the start-up log and the dashboard show.</summary>
    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(ProductVersion.Current);
            return 0;
        }
    }
}
