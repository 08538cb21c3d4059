using System.Net;
using CopilotProxy.Configuration;
using CopilotProxy.Keys;
using CopilotProxy.Tests.Harness;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static CopilotProxy.Tests.Keys.KeyClient;

namespace CopilotProxy.Tests.Keys;

/// <summary>Virtual keys in a real PostgreSQL server: replicas share keys, limits and usage; a database that is down fails closed.</summary>
public class PostgresKeyTests
{
    [Fact]
    public async Task TwoInstancesOnOnePostgres_ShareKeysLimitsAndUsage()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync();
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // One replica gets LiteLLM's URI form, the other Npgsql's own: both name the same database.
        var uri = $"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        await using var upstream = await FakeLmStudio.StartAsync();
        upstream.Models.Add(FakeModel.Llm("qwen/qwen3-8b", loadedContextLength: 16384));
        await using var a = await ProxyFixture.StartAsync(upstream, s => s with { ApiKey = Master, DatabaseUrl = uri });
        await using var b = await ProxyFixture.StartAsync(upstream, s => s with { ApiKey = Master, DatabaseUrl = connectionString });
        Assert.True(a.App.Services.GetRequiredService<KeyDatabase>().IsPostgres);

        var key = await GenerateAsync(a.Gateway, """{"key_alias":"shared","rpm_limit":3}""");
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(b.Gateway, key)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(a.Gateway, key)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(b.Gateway, key)).Response.StatusCode);
        var (limited, _) = await ChatAsync(a.Gateway, key);
        // Three requests in this minute across both replicas: the fourth is refused, unless the minute just turned.
        if (limited.StatusCode == HttpStatusCode.OK)
        {
            Assert.Equal("2", limited.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        }
        else
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        }

        var usage = await UsageAsync(b.Gateway, key, 3);
        Assert.True((long)usage["requests"]! >= 3);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(a.Gateway, HttpMethod.Post, "/key/delete", Master, $$"""{"keys":["{{key}}"]}""")).Response.StatusCode);
        // Replica b trusts its cached copy for at most KeyLookup.Ttl (5 s).
        HttpStatusCode status = default;
        for (var i = 0; i < 80 && status != HttpStatusCode.Unauthorized; i++)
        {
            status = (await ChatAsync(b.Gateway, key)).Response.StatusCode;
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task SslModeRequire_KeysWorkOverTls()
    {
        // Managed PostgreSQL (RDS, Azure, Supabase) takes TLS connections only: the slim data source must offer TLS, or every
        // key request fails with a message about Npgsql's builder.
        var builder = new NpgsqlConnectionStringBuilder(await PostgresServer.CreateDatabaseAsync());
        var uri = $"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}?sslmode=require";
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = Master, DatabaseUrl = uri });
        var key = await GenerateAsync(proxy.Gateway, """{"key_alias":"tls"}""");
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Gateway, key)).Response.StatusCode);

        await using var connection = await proxy.App.Services.GetRequiredService<KeyDatabase>().OpenAsync(TestContext.Current.CancellationToken);
        await using var ssl = connection.Command("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
        Assert.True((bool)(await ssl.ExecuteScalarAsync(TestContext.Current.CancellationToken))!);
    }

    [Fact]
    public async Task MigrationsRunTwice_AreANoOp()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync();
        var settings = new ProxySettings { DatabaseUrl = connectionString };
        await using (var first = KeyDatabase.Open(settings, GatewayConfig.Empty))
        {
            await first.EnsureMigratedAsync();
        }

        await using var second = KeyDatabase.Open(settings, GatewayConfig.Empty);
        await second.EnsureMigratedAsync();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM schema_migrations", connection);
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync(TestContext.Current.CancellationToken))!);
    }

    [Fact]
    public async Task DatabaseDown_MasterKeyStillWorks_VirtualKeysGet503InTheApisShape()
    {
        // A port nobody listens on: the database is "down" from the first request.
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { ApiKey = Master, DatabaseUrl = $"postgresql://proxy@127.0.0.1:{port}/keys?connect_timeout=2" });
        proxy.Upstream.MessagesApi = true;
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy.Gateway, Master)).Response.StatusCode);

        var (openAI, json) = await ChatAsync(proxy.Gateway, "sk-some-virtual-key-1234");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, openAI.StatusCode);
        Assert.Equal("key_database_unavailable", (string)json!["error"]!["code"]!);
        Assert.Contains("master key still work", (string)json["error"]!["message"]!, StringComparison.Ordinal);

        var (anthropic, anthropicJson) = await SendAsync(proxy.Gateway, HttpMethod.Post, "/v1/messages", "sk-some-virtual-key-1234",
            """{"model":"qwen/qwen3-8b","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, anthropic.StatusCode);
        Assert.Equal("error", (string)anthropicJson!["type"]!);

        var (generate, _) = await SendAsync(proxy.Gateway, HttpMethod.Post, "/key/generate", Master, "{}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, generate.StatusCode);
    }
}
