using System.Text.Json;
using CopilotProxy.Diagnostics;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Clients;

/// <summary><c>copilot-proxy clients</c> and <c>GET /clients</c>: setups people paste, with the model catalog's real limits.</summary>
public sealed class ClientSetupsTests
{
    private const string Key = "qwen/qwen3-8b";

    private static readonly FakeModel[] Models =
    [
        FakeModel.Llm(Key, loadedContextLength: 16384, reasoning: true),
        FakeModel.Llm("google/gemma-3-4b", loadedContextLength: 8192, vision: true),
        new("old/no-tools-7b", LoadedContextLength: 4096, TrainedForToolUse: false),
        FakeModel.Embedding("nomic-embed"),
    ];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Clients_EverySetupHasTheShapeTheDashboardRenders()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models);

        using var response = await proxy.Gateway.GetAsync("clients", Ct);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var setups = json.RootElement.GetProperty("setups").EnumerateArray().ToList();
        Assert.Equal(["ollama-vscode", "copilot-ollama", "copilot-custom-endpoint", "copilot-cli", "continue", "cline", "aider", "sdks"],
            setups.Select(s => s.GetProperty("id").GetString()));
        Assert.All(setups, s =>
        {
            Assert.False(string.IsNullOrWhiteSpace(s.GetProperty("title").GetString()));
            Assert.False(string.IsNullOrWhiteSpace(s.GetProperty("description").GetString()));
            var snippets = s.GetProperty("snippets").EnumerateArray().ToList();
            Assert.NotEmpty(snippets);
            Assert.All(snippets, snippet =>
            {
                Assert.False(string.IsNullOrWhiteSpace(snippet.GetProperty("label").GetString()));
                Assert.Contains(snippet.GetProperty("language").GetString(), (string[])["json", "sh", "text"]);
                if (snippet.GetProperty("language").GetString() == "json")
                {
                    using var parsed = JsonDocument.Parse(snippet.GetProperty("text").GetString()!);
                }
            });
        });
        var ollamaUrl = $"http://127.0.0.1:{proxy.OllamaUrl.Port}";
        Assert.Equal(ollamaUrl, Snippet(setups, "ollama-vscode", "URL"));
        Assert.Contains($"\"ollama.endpoint\": \"{ollamaUrl}\"", Snippet(setups, "ollama-vscode", "settings.json"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CustomEndpoint_OneEntryPerToolCapableChatModel_WithTheBudgetedLimits()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models);

        var setups = await SetupsAsync(proxy);
        using var block = JsonDocument.Parse(Snippet(setups, "copilot-custom-endpoint", "chatLanguageModels.json"));
        using var settings = JsonDocument.Parse(Snippet(setups, "copilot-custom-endpoint", "settings.json"));

        var provider = Assert.Single(block.RootElement.EnumerateArray().ToList());
        Assert.Equal("customendpoint", provider.GetProperty("vendor").GetString());
        Assert.False(provider.TryGetProperty("apiKey", out _));
        var models = provider.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal([Key, "google/gemma-3-4b"], models.Select(m => m.GetProperty("id").GetString()));
        var qwen = models[0];
        Assert.Equal($"http://127.0.0.1:{proxy.GatewayUrl.Port}/v1/chat/completions", qwen.GetProperty("url").GetString());
        Assert.Equal("chat-completions", qwen.GetProperty("apiType").GetString());
        Assert.True(qwen.GetProperty("toolCalling").GetBoolean());
        Assert.True(qwen.GetProperty("thinking").GetBoolean());
        Assert.False(qwen.GetProperty("vision").GetBoolean());
        Assert.Equal(12288, qwen.GetProperty("maxInputTokens").GetInt32());
        Assert.Equal(4096, qwen.GetProperty("maxOutputTokens").GetInt32());
        Assert.True(models[1].GetProperty("vision").GetBoolean());
        Assert.Equal(4096, models[1].GetProperty("maxInputTokens").GetInt32());
        Assert.True(settings.RootElement.GetProperty("chat.agentHost.byokModels.enabled").GetBoolean());

        // The block the user pastes names models the gateway really serves.
        using var chat = ProxyFixture.CopilotPost(new Uri(qwen.GetProperty("url").GetString()!).PathAndQuery.TrimStart('/'), CopilotRequests.Chat(qwen.GetProperty("id").GetString()!, stream: false));
        using var answer = await proxy.Gateway.SendAsync(chat, Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task GatewayKey_IsAnInputVariableAndAPlaceholder_NeverTheKeyItself()
    {
        const string secret = "sk-very-secret-gateway-key";
        await using var proxy = await ProxyFixture.StartAsync(Models, configure: s => s with { ApiKey = secret });
        // /clients needs the key when one is configured, as LiteLLM's routes do; it answers with a placeholder, never the key.
        using (var anonymous = await proxy.Gateway.GetAsync("clients", Ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "clients");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        using var response = await proxy.Gateway.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        var setups = JsonDocument.Parse(text).RootElement.GetProperty("setups").EnumerateArray().ToList();

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        using var block = JsonDocument.Parse(Snippet(setups, "copilot-custom-endpoint", "chatLanguageModels.json"));
        Assert.Equal("${input:copilot-proxy-api-key}", block.RootElement[0].GetProperty("apiKey").GetString());
        Assert.Contains("export COPILOT_PROVIDER_API_KEY='<your API_KEY>'", Snippet(setups, "copilot-cli", "environment"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CopilotCli_EnvironmentNamesTheGatewayAModelAndItsPromptBudget()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models);

        var environment = Snippet(await SetupsAsync(proxy), "copilot-cli", "environment").Split('\n');

        Assert.Contains($"export COPILOT_PROVIDER_BASE_URL=http://127.0.0.1:{proxy.GatewayUrl.Port}/v1", environment);
        Assert.Contains("export COPILOT_PROVIDER_TYPE=openai", environment);
        Assert.Contains("export COPILOT_PROVIDER_WIRE_API=completions", environment);
        Assert.Contains($"export COPILOT_MODEL={Key}", environment);
        Assert.Contains("export COPILOT_PROVIDER_MAX_PROMPT_TOKENS=12288", environment);
    }

    [Fact]
    public async Task Command_PrintsTheSameSetupsAsTheRunningProxy_TextAndJson()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models);
        var settings = proxy.Settings with { OllamaPort = proxy.OllamaUrl.Port, GatewayPort = proxy.GatewayUrl.Port };
        using var json = new StringWriter();
        using var text = new StringWriter();
        using var errors = new StringWriter();

        var jsonExit = await ClientsCommand.RunAsync(settings, null, json: true, json, errors, Ct);
        var textExit = await ClientsCommand.RunAsync(settings, null, json: false, text, errors, Ct);
        var served = await proxy.Gateway.GetStringAsync("clients", Ct);

        Assert.Equal((0, 0), (jsonExit, textExit));
        Assert.Equal(Normalize(served), Normalize(json.ToString()));
        Assert.Contains("## GitHub Copilot Chat, Custom Endpoint", text.ToString(), StringComparison.Ordinal);
        Assert.Contains($"{Key}: context 16384, input 12288, output 4096, tools, thinking", text.ToString(), StringComparison.Ordinal);
        Assert.Empty(errors.ToString());
    }

    [Fact]
    public async Task JsonForPeople_KeepsQuotesAndAngleBrackets_AsTyped_InTheCommandAndGetClients()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models, configure: s => s with { ApiKey = "sk-gw" });
        var settings = proxy.Settings with { OllamaPort = proxy.OllamaUrl.Port, GatewayPort = proxy.GatewayUrl.Port };
        using var json = new StringWriter();
        using var errors = new StringWriter();

        await ClientsCommand.RunAsync(settings, null, json: true, json, errors, Ct);
        // /clients needs the key, as LiteLLM's admin routes do.
        using var request = new HttpRequestMessage(HttpMethod.Get, "clients") { Headers = { { "Authorization", "Bearer sk-gw" } } };
        using var response = await proxy.Gateway.SendAsync(request, Ct);
        var served = await response.EnsureSuccessStatusCode().Content.ReadAsStringAsync(Ct);

        foreach (var output in (string[])[json.ToString(), served])
        {
            // Valid JSON either way; what `jq -r` prints and a person reads must be the snippet as docs/clients.md shows it.
            Assert.DoesNotContain("\\u00", output, StringComparison.Ordinal);
            Assert.Contains("""\"toolCalling\": true""", output, StringComparison.Ordinal);
            Assert.Contains(ClientSetups.ApiKeyPlaceholder, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OllamaExtension_SaysHowToClearItsContextWarning_AndWhatItCosts()
    {
        await using var proxy = await ProxyFixture.StartAsync(Models);

        using var json = JsonDocument.Parse(await proxy.Gateway.GetStringAsync("clients", Ct));

        var works = json.RootElement.GetProperty("setups").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "ollama-vscode")
            .GetProperty("works").EnumerateArray().Select(w => w.GetString()!).ToList();
        Assert.Contains(works, w => w.Contains("MIN_CONTEXT_LENGTH=65536", StringComparison.Ordinal) && w.Contains("GiB", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Command_UpstreamDown_SaysSoAndExits1()
    {
        var upstream = await FakeLmStudio.StartAsync();
        var url = upstream.BaseUrl;
        await upstream.DisposeAsync();
        using var output = new StringWriter();
        using var errors = new StringWriter();

        var exit = await ClientsCommand.RunAsync(new CopilotProxy.Configuration.ProxySettings { LmStudioUrl = url }, null, json: false, output, errors, Ct);

        Assert.Equal(1, exit);
        Assert.Contains(url.Authority, errors.ToString(), StringComparison.Ordinal);
        Assert.Contains("No chat models", output.ToString(), StringComparison.Ordinal);
    }

    internal static string Snippet(IEnumerable<JsonElement> setups, string id, string label) =>
        setups.Single(s => s.GetProperty("id").GetString() == id).GetProperty("snippets").EnumerateArray()
            .Single(s => s.GetProperty("label").GetString() == label).GetProperty("text").GetString()!;

    private static async Task<List<JsonElement>> SetupsAsync(ProxyFixture proxy)
    {
        using var json = JsonDocument.Parse(await proxy.Gateway.GetStringAsync("clients", Ct));
        return [.. json.RootElement.GetProperty("setups").EnumerateArray().Select(e => e.Clone())];
    }

    private static string Normalize(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);
}
