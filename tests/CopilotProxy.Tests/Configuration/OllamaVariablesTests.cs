using CopilotProxy.Configuration;

namespace CopilotProxy.Tests.Configuration;

/// <summary>Ollama's server variables left over from a real Ollama: said when they ask for something else than the proxy does, silent when they agree.</summary>
public sealed class OllamaVariablesTests
{
    private static readonly ProxySettings Defaults = new();

    [Theory]
    [InlineData("0.0.0.0", "asks for 0.0.0.0:11434")]
    [InlineData("0.0.0.0:11434", "asks for 0.0.0.0:11434")]
    [InlineData(":11434", "asks for 0.0.0.0:11434")]
    [InlineData("127.0.0.1:11500", "asks for 127.0.0.1:11500")]
    [InlineData("http://localhost", "asks for localhost:80")]
    [InlineData("http://gpu-box:11434", "asks for gpu-box:11434")]
    [InlineData("[::]:11434", "asks for [::]:11434")]
    public void OllamaHost_ThatDisagrees_IsSaid_WithTheSettingsToUse(string value, string asked)
    {
        var said = Assert.Single(OllamaVariables.Disagreements(Env("OLLAMA_HOST", value), Defaults));

        Assert.Contains(asked, said, StringComparison.Ordinal);
        Assert.Contains("listens on 127.0.0.1:11434", said, StringComparison.Ordinal);
        Assert.Contains("Set HOST and OLLAMA_PORT, or OLLAMA_HOST=127.0.0.1:11434", said, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("http://127.0.0.1:11434")]
    [InlineData("localhost:11434")]
    [InlineData("\"[::1]:11434\"")]
    [InlineData("http://localhost:11434/")]
    public void OllamaHost_ThatAgrees_AsAClientsSettingDoes_IsNotSaid(string value) =>
        Assert.Empty(OllamaVariables.Disagreements(Env("OLLAMA_HOST", value), Defaults));

    [Fact]
    public void OllamaHost_OnEveryInterface_AgreesWithHostZero() =>
        Assert.Empty(OllamaVariables.Disagreements(Env("OLLAMA_HOST", "0.0.0.0:11434"), Defaults with { Host = "0.0.0.0" }));

    [Fact]
    public void OllamaContextLength_NamesMinContextLength_UnlessTheyAgree()
    {
        var said = Assert.Single(OllamaVariables.Disagreements(Env("OLLAMA_CONTEXT_LENGTH", "65536"), Defaults));

        Assert.Contains("OLLAMA_CONTEXT_LENGTH is 65536", said, StringComparison.Ordinal);
        Assert.Contains("Set MIN_CONTEXT_LENGTH=65536", said, StringComparison.Ordinal);
        Assert.Empty(OllamaVariables.Disagreements(Env("OLLAMA_CONTEXT_LENGTH", "65536"), Defaults with { MinContextLength = 65536 }));
    }

    [Fact]
    public void NothingSet_NothingSaid() => Assert.Empty(OllamaVariables.Disagreements(_ => null, Defaults));

    private static Func<string, string?> Env(string name, string value) => n => n == name ? value : null;
}
