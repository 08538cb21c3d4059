using CopilotProxy.Tests.Harness;
using static CopilotProxy.Tests.Harness.GatewayHarness;

namespace CopilotProxy.Tests.Http;

/// <summary>The gateway's key: required where configured, in either header, compared exactly; never on the Ollama front door.</summary>
public sealed class GatewayAuthTests
{
    private static readonly string KeyedConfig = """
        general_settings:
          master_key: sk-file-key
        """;

    [Theory]
    [InlineData(null)]
    [InlineData("sk-wrong")]
    [InlineData("sk-file-ke")]
    [InlineData("sk-file-key-and-more")]
    public async Task WrongOrMissingKey_Returns401InOpenAIShape(string? presented)
    {
        await using var proxy = await ProxyFixture.StartAsync(config: Config(KeyedConfig));

        var models = await SendAsync(proxy.Gateway, Get("v1/models", bearer: presented));
        var chat = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat(Key), xApiKey: presented));

        Assert.Equal(401, models.Status);
        Assert.Equal("invalid_api_key", models.ErrorCode);
        Assert.Equal("authentication_error", models.Body.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(401, chat.Status);
        Assert.Equal(0, proxy.Upstream.CountOf("/v1/chat/completions"));
    }

    [Fact]
    public async Task RightKey_IsAcceptedAsBearerAndAsXApiKey()
    {
        await using var proxy = await ProxyFixture.StartAsync(config: Config(KeyedConfig));

        var bearer = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat(Key), bearer: "sk-file-key"));
        var xApiKey = await SendAsync(proxy.Gateway, Post("chat/completions", Chat(Key), xApiKey: "sk-file-key"));
        // Copilot-style empty bearer plus the key in x-api-key still counts.
        using var both = Post("v1/chat/completions", Chat(Key), xApiKey: "sk-file-key");
        both.Headers.TryAddWithoutValidation("Authorization", "Bearer ");
        var emptyBearer = await SendAsync(proxy.Gateway, both);

        Assert.Equal(200, bearer.Status);
        Assert.Equal(200, xApiKey.Status);
        Assert.Equal(200, emptyBearer.Status);
        Assert.Equal(3, proxy.Upstream.CountOf("/v1/chat/completions"));
    }

    [Fact]
    public async Task ApiKeyVariable_WinsOverMasterKey()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = "sk-env-key" }, config: Config(KeyedConfig));

        var fileKey = await SendAsync(proxy.Gateway, Get("v1/models", bearer: "sk-file-key"));
        var envKey = await SendAsync(proxy.Gateway, Get("v1/models", bearer: "sk-env-key"));

        Assert.Equal(401, fileKey.Status);
        Assert.Equal(200, envKey.Status);
    }

    [Fact]
    public async Task NoKeyConfigured_GatewayIsOpen()
    {
        await using var proxy = await ProxyFixture.StartAsync();

        var anonymous = await SendAsync(proxy.Gateway, Post("v1/chat/completions", Chat(Key)));
        var anyKey = await SendAsync(proxy.Gateway, Get("models", bearer: "whatever"));

        Assert.Equal(200, anonymous.Status);
        Assert.Equal(200, anyKey.Status);
    }

    [Fact]
    public async Task OllamaFrontDoor_StaysOpenToCopilotsEmptyBearer_WhenTheGatewayHasAKey()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = "sk-env-key" });

        var tags = await SendAsync(proxy.Ollama, Get("api/tags"));
        var chat = await SendAsync(proxy.Ollama, ProxyFixture.CopilotPost("v1/chat/completions", CopilotRequests.Chat(Key, stream: false)));
        var models = await SendAsync(proxy.Ollama, Get("v1/models", bearer: "wrong"));

        Assert.Equal(200, tags.Status);
        Assert.Equal(200, chat.Status);
        Assert.Equal(200, models.Status);
    }

    [Fact]
    public async Task Probes_StayOpen_ButTheHealthReportNeedsTheKey_WhenTheGatewayHasOne()
    {
        await using var proxy = await ProxyFixture.StartAsync(config: Config(KeyedConfig));
        await SendAsync(proxy.Gateway, Get("v1/models", bearer: "sk-file-key"));

        var liveliness = await SendAsync(proxy.Gateway, Get("health/liveliness"));
        var readiness = await SendAsync(proxy.Gateway, Get("health/readiness"));
        var metrics = await SendAsync(proxy.Gateway, Get("metrics"));
        // LiteLLM asks for the key on /health: the report names every deployment's api_base.
        var health = await SendAsync(proxy.Gateway, Get("health"));
        var healthWithKey = await SendAsync(proxy.Gateway, Get("health", bearer: "sk-file-key"));

        Assert.Equal(200, liveliness.Status);
        Assert.Equal(200, readiness.Status);
        Assert.Equal(200, metrics.Status);
        Assert.Equal(401, health.Status);
        Assert.Equal(200, healthWithKey.Status);
    }
}
