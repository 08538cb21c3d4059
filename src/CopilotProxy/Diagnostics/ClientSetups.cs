using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CopilotProxy.Catalog;
using CopilotProxy.Http;

namespace CopilotProxy.Diagnostics;

/// <summary>Every client setup, for <c>copilot-proxy clients</c> and <c>GET /clients</c>; the dashboard renders any setup from this shape.</summary>
public sealed record ClientSetupList(string OllamaUrl, string GatewayUrl, bool GatewayKeyRequired, IReadOnlyList<ClientModel> Models, IReadOnlyList<ClientSetup> Setups);

/// <summary>One client: what to paste where (<see cref="Snippets"/>), and what works through the proxy (<see cref="Works"/>).</summary>
public sealed record ClientSetup(string Id, string Title, string Description, IReadOnlyList<ClientSnippet> Snippets, IReadOnlyList<string> Works);

/// <summary>One ready-to-paste text; <see cref="Language"/> is <c>json</c>, <c>sh</c> or <c>text</c>.</summary>
public sealed record ClientSnippet(string Label, string Language, string Text);

/// <summary>A chat model with the limits every setup uses (<see cref="TokenBudget"/>).</summary>
public sealed record ClientModel(string Id, string OllamaName, int ContextLength, int MaxInputTokens, int MaxOutputTokens, bool ToolCalling, bool Vision, bool Thinking);

/// <summary>Where the front doors are, as a client on this machine reaches them, and whether the gateway wants its key.</summary>
public sealed record ClientEndpoints(string OllamaUrl, string GatewayUrl, bool GatewayKeyRequired)
{
    /// <summary>
    /// The front doors on <paramref name="host"/>. A wildcard or loopback bind is reached at 127.0.0.1, not "localhost":
    /// Node (the Ollama extension, Copilot CLI) resolves localhost to ::1 first, where a 127.0.0.1 listener never answers.
    /// </summary>
    public static ClientEndpoints For(string host, int ollamaPort, int gatewayPort, bool gatewayKeyRequired)
    {
        var reachable = host is "0.0.0.0" or "::" or "[::]" or "localhost" or "127.0.0.1" or "" ? "127.0.0.1" : host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
        return new ClientEndpoints($"http://{reachable}:{ollamaPort}", $"http://{reachable}:{gatewayPort}", gatewayKeyRequired);
    }
}

/// <summary>
/// Writes the setups of the clients people point at the proxy (docs/protocol.md §8): the Ollama VS Code extension, Copilot's
/// Ollama provider, Copilot's Custom Endpoint (<c>chatLanguageModels.json</c>), Copilot CLI, Continue, Cline, Aider and the
/// OpenAI and Anthropic SDKs, with each model's real limits from the model catalog.
/// </summary>
public static class ClientSetups
{
    /// <summary>The <c>${input:…}</c> variable Custom Endpoint prompts for; VS Code keeps the answer in its secret storage.</summary>
    public const string ApiKeyInput = "${input:copilot-proxy-api-key}";

    /// <summary>How a key is written in shell and text snippets: the key itself is never printed or served.</summary>
    public const string ApiKeyPlaceholder = "<your API_KEY>";

    /// <summary>What non-Copilot clients send when the gateway is open: any value works, but most clients refuse an empty key.</summary>
    public const string NoKeyValue = "copilot-proxy";

    public static ClientSetupList Build(ClientEndpoints endpoints, IEnumerable<CatalogModel> catalog)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(catalog);
        var models = catalog.Where(m => m.Kind == ModelKind.Llm).Select(ToClientModel).ToList();
        var toolModels = models.Where(m => m.ToolCalling).ToList();
        var first = toolModels.FirstOrDefault() ?? models.FirstOrDefault();
        var key = endpoints.GatewayKeyRequired ? ApiKeyPlaceholder : NoKeyValue;
        var gatewayV1 = endpoints.GatewayUrl + "/v1";

        List<ClientSetup> setups =
        [
            OllamaExtension(endpoints),
            CopilotOllama(endpoints),
            CustomEndpoint(endpoints, toolModels),
            CopilotCli(gatewayV1, key, endpoints.GatewayKeyRequired, first),
            Continue(gatewayV1, key, first),
            Cline(gatewayV1, key, first),
            Aider(gatewayV1, key, first),
            Sdks(endpoints, key, first),
        ];
        return new ClientSetupList(endpoints.OllamaUrl, endpoints.GatewayUrl, endpoints.GatewayKeyRequired, models, setups);
    }

    /// <summary>The setups as text for a terminal: each title, its description, and its snippets ready to paste.</summary>
    public static string ToText(ClientSetupList list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var text = new StringBuilder();
        text.Append("copilot-proxy clients: Ollama front door ").Append(list.OllamaUrl).Append(", OpenAI gateway ").Append(list.GatewayUrl)
            .Append(list.GatewayKeyRequired ? " (needs its key)" : " (open, no key)").Append('\n');
        text.Append(list.Models.Count == 0 ? "No chat models in the model catalog yet: load or download one in LM Studio, then run this again.\n" : $"{list.Models.Count} chat model(s):\n");
        foreach (var model in list.Models)
        {
            text.Append($"  {model.Id}: context {model.ContextLength}, input {model.MaxInputTokens}, output {model.MaxOutputTokens}")
                .Append(model.ToolCalling ? ", tools" : string.Empty).Append(model.Vision ? ", vision" : string.Empty).Append(model.Thinking ? ", thinking" : string.Empty).Append('\n');
        }

        foreach (var setup in list.Setups)
        {
            text.Append('\n').Append("## ").Append(setup.Title).Append('\n').Append(setup.Description).Append('\n');
            foreach (var snippet in setup.Snippets)
            {
                text.Append('\n').Append(snippet.Label).Append(":\n").Append(snippet.Text).Append('\n');
            }

            text.Append(setup.Works.Count > 0 ? "\nWhat works:\n" : string.Empty);
            foreach (var works in setup.Works)
            {
                text.Append("  - ").Append(works).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// The setups as JSON for <c>--json</c>: relaxed escaping, so a snippet read through <c>jq -r</c> has its quotes and
    /// angle brackets as typed, not <c>\u0022</c> and <c>\u003E</c> (the strict encoder only matters inside HTML).
    /// </summary>
    public static string ToJson(ClientSetupList list) => Encoding.UTF8.GetString(ReadableJson.SerializeToUtf8Bytes(list, ClientSetupJsonContext.Default.ClientSetupList, indented: true));

    private static ClientModel ToClientModel(CatalogModel model)
    {
        var budget = TokenBudget.For(model);
        return new ClientModel(model.Id, model.OllamaName, budget.ContextLength, budget.MaxInputTokens, budget.MaxOutputTokens, model.Tools, model.Vision, model.Thinking);
    }

    private static ClientSetup OllamaExtension(ClientEndpoints endpoints) => new(
        "ollama-vscode",
        "Ollama VS Code extension",
        "The official Ollama extension (publisher Ollama) talks to the Ollama front door with the native API. In VS Code: Chat > Manage Language Models > Add Models > Ollama, and give it this URL; or set it in settings.json.",
        [
            new("URL", "text", endpoints.OllamaUrl),
            new("settings.json", "json", Json(w => w.WriteString("ollama.endpoint", endpoints.OllamaUrl))),
        ],
        [
            "discovery: /api/tags and /api/show, with tools, vision and the context window per model",
            "chat: streamed /api/chat, tool calls with ids, images on user messages",
            "thinking: not shown (the extension ignores message.thinking)",
            "errors: shown as text; stopping a chat stops the upstream request",
            "context warning: the extension warns below 64K (\"Set it to at least 64K in Ollama Settings\"); through the proxy, set MIN_CONTEXT_LENGTH=65536 "
                + "instead (capped at each model's maximum). Cost for an 8B model with an f16 KV cache: 4-4.5 GiB more than the default 32768 (Llama 3.1 8B 8 GiB instead of 4)",
        ]);

    private static ClientSetup CopilotOllama(ClientEndpoints endpoints) => new(
        "copilot-ollama",
        "GitHub Copilot Chat, Ollama provider (deprecated)",
        "Copilot's built-in Ollama provider still works, although VS Code now points to the Ollama extension or Custom Endpoint. Chat > Manage Language Models > Ollama, URL below; older builds read the setting.",
        [
            new("URL", "text", endpoints.OllamaUrl),
            new("settings.json", "json", Json(w => w.WriteString("github.copilot.chat.byok.ollamaEndpoint", endpoints.OllamaUrl))),
        ],
        [
            "discovery: /api/version, /api/tags, /api/show (tools, vision, context window)",
            "chat: streamed /v1/chat/completions on the Ollama port, agent mode with tool calls",
            "thinking: shown (reasoning_text)",
            "vision: images for models LM Studio reports as vision-capable",
        ]);

    private static ClientSetup CustomEndpoint(ClientEndpoints endpoints, IReadOnlyList<ClientModel> toolModels)
    {
        var url = endpoints.GatewayUrl + "/v1/chat/completions";
        var block = Json(w =>
        {
            w.WriteStartArray();
            w.WriteStartObject();
            w.WriteString("name", "copilot-proxy");
            w.WriteString("vendor", "customendpoint");
            if (endpoints.GatewayKeyRequired)
            {
                w.WriteString("apiKey", ApiKeyInput);
            }

            w.WriteStartArray("models");
            foreach (var model in toolModels)
            {
                w.WriteStartObject();
                w.WriteString("id", model.Id);
                w.WriteString("name", model.Id);
                w.WriteString("url", url);
                w.WriteString("apiType", "chat-completions");
                w.WriteBoolean("toolCalling", model.ToolCalling);
                w.WriteBoolean("vision", model.Vision);
                w.WriteBoolean("thinking", model.Thinking);
                w.WriteNumber("maxInputTokens", model.MaxInputTokens);
                w.WriteNumber("maxOutputTokens", model.MaxOutputTokens);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
        }, writeStartObject: false);
        var keyNote = endpoints.GatewayKeyRequired
            ? $" VS Code asks for the key once ({ApiKeyInput}) and keeps it in its secret storage."
            : " The gateway has no key, so the block has no apiKey.";
        return new ClientSetup(
            "copilot-custom-endpoint",
            "GitHub Copilot Chat, Custom Endpoint",
            "Copilot's Custom Endpoint provider lists only the models written into chatLanguageModels.json (Chat > Manage Language Models > Custom Endpoint, or the file in your VS Code user folder), one entry per model with its limits; here is one entry per tool-capable model of the model catalog."
            + keyNote + " For the Responses API, set apiType to \"responses\" and url to " + endpoints.GatewayUrl + "/v1/responses; for Anthropic's Messages API, \"messages\" and " + endpoints.GatewayUrl
            + "/v1/messages. In VS Code 1.132 and later these models stay hidden until chat.agentHost.byokModels.enabled is on; it is not in the Settings UI, so add it to settings.json.",
            [
                new("chatLanguageModels.json", "json", block),
                new("settings.json", "json", Json(w => w.WriteBoolean("chat.agentHost.byokModels.enabled", true))),
            ],
            [
                "models: listed from this file, with the limits and capabilities written here (Custom Endpoint discovers none)",
                "chat: streamed chat completions, Responses or Messages, with tool calls (agent mode)",
                "thinking and vision: as flagged per model",
            ]);
    }

    private static ClientSetup CopilotCli(string gatewayV1, string key, bool keyRequired, ClientModel? model)
    {
        var lines = new StringBuilder();
        lines.Append("export COPILOT_PROVIDER_BASE_URL=").Append(gatewayV1).Append('\n');
        lines.Append("export COPILOT_PROVIDER_TYPE=openai\n");
        lines.Append("export COPILOT_PROVIDER_WIRE_API=completions\n");
        if (keyRequired)
        {
            lines.Append("export COPILOT_PROVIDER_API_KEY=").Append(ShellQuote(key)).Append('\n');
        }

        if (model is not null)
        {
            lines.Append("export COPILOT_MODEL=").Append(ShellQuote(model.Id)).Append('\n');
            lines.Append("export COPILOT_PROVIDER_MAX_PROMPT_TOKENS=").Append(model.MaxInputTokens).Append('\n');
        }

        return new ClientSetup(
            "copilot-cli",
            "GitHub Copilot CLI",
            "Copilot CLI takes its provider from the environment. COPILOT_PROVIDER_WIRE_API=responses uses the gateway's Responses API instead of chat completions.",
            [new("environment", "sh", lines.ToString().TrimEnd('\n'))],
            [
                "chat: streamed chat completions or Responses, with tool calls",
                "thinking: shown from reasoning_content, the only field Copilot CLI reads",
            ]);
    }

    private static ClientSetup Continue(string gatewayV1, string key, ClientModel? model)
    {
        var id = model?.Id ?? "<model id>";
        var yaml = $"""
            models:
              - name: {id}
                provider: openai
                model: {id}
                apiBase: {gatewayV1}
                apiKey: {key}
            """;
        return new ClientSetup(
            "continue",
            "Continue",
            "Continue's config.yaml, with the gateway as an OpenAI-compatible provider (one entry per model you want).",
            [new("config.yaml", "text", yaml)],
            ["chat and tool calls over chat completions; autocomplete over /v1/completions"]);
    }

    private static ClientSetup Cline(string gatewayV1, string key, ClientModel? model) => new(
        "cline",
        "Cline",
        "Cline's settings: API Provider \"OpenAI Compatible\".",
        [new("settings", "text", $"Base URL: {gatewayV1}\nAPI Key: {key}\nModel ID: {model?.Id ?? "<model id>"}" + (model is null ? string.Empty : $"\nContext Window Size: {model.ContextLength}\nMax Output Tokens: {model.MaxOutputTokens}"))],
        ["chat and tool use over chat completions; images for vision models"]);

    private static ClientSetup Aider(string gatewayV1, string key, ClientModel? model) => new(
        "aider",
        "Aider",
        "Aider reaches OpenAI-compatible servers through OPENAI_API_BASE; the openai/ prefix tells it which protocol to speak.",
        [new("shell", "sh", $"export OPENAI_API_BASE={gatewayV1}\nexport OPENAI_API_KEY={ShellQuote(key)}\naider --model {ShellQuote("openai/" + (model?.Id ?? "<model id>"))}")],
        ["chat and edits over chat completions"]);

    private static ClientSetup Sdks(ClientEndpoints endpoints, string key, ClientModel? model) => new(
        "sdks",
        "OpenAI and Anthropic SDKs, LiteLLM clients",
        "Any OpenAI SDK takes the gateway's /v1 as its base URL; the Anthropic SDK takes the gateway root (it adds /v1/messages). /v1/models and /model/info list each model's max_input_tokens and max_output_tokens.",
        [
            new("environment", "sh",
                $"export OPENAI_BASE_URL={endpoints.GatewayUrl}/v1\nexport OPENAI_API_KEY={ShellQuote(key)}\nexport ANTHROPIC_BASE_URL={endpoints.GatewayUrl}\nexport ANTHROPIC_API_KEY={ShellQuote(key)}"),
            new("Ollama's own OpenAI-compatible routes", "text", $"{endpoints.OllamaUrl}/v1 (chat completions, completions, embeddings, models; no key)"),
        ],
        [
            "chat completions, completions, embeddings, Responses and Messages, streaming or not" + (model is null ? string.Empty : $"; model ids as in /v1/models, e.g. {model.Id}"),
        ]);

    /// <summary>Single-quotes a value for sh unless it is made only of characters sh leaves alone.</summary>
    private static string ShellQuote(string value) =>
        value.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or ':' or '@' or '+' or '=' or ',')
            ? value
            : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Indented JSON as people paste it; <paramref name="writeStartObject"/> wraps the writes in one object.</summary>
    private static string Json(Action<Utf8JsonWriter> write, bool writeStartObject = true)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, ReadableJson.IndentedWriterOptions))
        {
            if (writeStartObject)
            {
                writer.WriteStartObject();
            }

            write(writer);
            if (writeStartObject)
            {
                writer.WriteEndObject();
            }
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

// Written only: the fast-path serializer alone, without the metadata reading needs (docs/performance.md, "Footprint").
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(ClientSetupList))]
internal sealed partial class ClientSetupJsonContext : JsonSerializerContext;
