namespace CopilotProxy.Hosting;

/// <summary>
/// <c>copilot-proxy completion SHELL</c>: small shell functions that ask the binary itself what may come next, through
/// System.CommandLine's <c>[suggest:POSITION] "LINE"</c> directive (the protocol dotnet-suggest uses), so completion
/// always matches the parser of the binary being run and no list of commands is copied into a script.
/// </summary>
internal static class CompletionScripts
{
    public static readonly string[] Shells = ["bash", "zsh", "fish", "pwsh"];

    public static string For(string shell) => shell switch
    {
        "bash" => Bash,
        "zsh" => Zsh,
        "fish" => Fish,
        "pwsh" => PowerShell,
        _ => throw new ArgumentOutOfRangeException(nameof(shell), shell, "The parser accepts only " + string.Join(", ", Shells) + "."),
    };

    // The line up to the cursor, not the whole line: what follows the cursor is not being completed. The parser also
    // offers words that merely contain the typed text; bash would replace the word with their common prefix, so only
    // those that start with it are kept. No answer falls back to file names (-o default), as check-config FILE wants.
    private const string Bash = """
        # copilot-proxy completion for bash. Load it with: source <(copilot-proxy completion bash)
        _copilot_proxy() {
            local line="${COMP_LINE:0:COMP_POINT}"
            local word="${line##*[[:space:]]}" suggestion
            COMPREPLY=()
            while IFS= read -r suggestion; do
                [[ $suggestion == "$word"* ]] && COMPREPLY+=("$suggestion")
            done < <("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null)
        }
        complete -o default -F _copilot_proxy copilot-proxy

        """;

    private const string Zsh = """
        #compdef copilot-proxy
        # copilot-proxy completion for zsh. Load it with: source <(copilot-proxy completion zsh)
        _copilot_proxy() {
            local line="${(j: :)words[1,CURRENT]}"
            local -a suggestions
            suggestions=(${(f)"$("${words[1]}" "[suggest:${#line}]" "$line" 2>/dev/null)"})
            if (( ${#suggestions} )); then
                compadd -Q -- "${suggestions[@]}"
            else
                _files
            fi
        }
        (( $+functions[compdef] )) || { autoload -Uz compinit && compinit }
        compdef _copilot_proxy copilot-proxy

        """;

    private const string Fish = """
        # copilot-proxy completion for fish. Load it with: copilot-proxy completion fish | source
        function __copilot_proxy_suggest
            set -l line (commandline -cp)
            set -l executable (commandline -opc)[1]
            $executable "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null
        end
        complete -c copilot-proxy -f -a '(__copilot_proxy_suggest)'
        complete -c copilot-proxy -F -n '__fish_seen_subcommand_from check-config --check-config'

        """;

    // The cursor position PowerShell gives counts from the start of the whole input line, the directive's from the
    // start of this command; after a trailing space the cursor lies past the command's text, so the text is padded.
    private const string PowerShell = """
        # copilot-proxy completion for PowerShell. Load it with: copilot-proxy completion pwsh | Out-String | Invoke-Expression
        Register-ArgumentCompleter -Native -CommandName 'copilot-proxy', 'copilot-proxy.exe' -ScriptBlock {
            param($wordToComplete, $commandAst, $cursorPosition)
            $position = $cursorPosition - $commandAst.Extent.StartOffset
            $line = $commandAst.Extent.Text.PadRight($position)
            & $commandAst.CommandElements[0].Extent.Text "[suggest:$position]" $line 2>$null |
                Where-Object { $_.StartsWith($wordToComplete) } | ForEach-Object {
                [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
            }
        }

        """;
}
