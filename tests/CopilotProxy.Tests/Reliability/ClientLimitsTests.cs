using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CopilotProxy.Configuration;
using CopilotProxy.Tests.Harness;

namespace CopilotProxy.Tests.Reliability;

/// <summary>The client limits a flood or a broken upstream meets, seen from a client over real sockets.</summary>
public sealed class ClientLimitsTests
{
    private const string Key = "qwen/qwen3-8b";

    [Theory]
    [InlineData(null, 1024)]
    [InlineData("0", null)]
    [InlineData("2048", 2048)]
    public void MaxConnections_IsReadFromTheEnvironment(string? value, int? expected)
    {
        var result = SettingsLoader.Load(name => name == "MAX_CONNECTIONS" ? value : null);
        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Settings!.MaxConnections);
    }

    [Fact]
    public async Task ConnectionsPastMaxConnections_AreClosedAtOnce_AndServiceResumesWhenSomeLeave()
    {
        await using var proxy = await ProxyFixture.StartAsync(configure: s => s with { MaxConnections = 32 });
        var port = proxy.OllamaUrl.Port;
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 40; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, port);
                sockets.Add(socket);
            }

            // A connection over the limit is closed by the proxy: a read ends at once with no bytes.
            var buffer = new byte[16];
            var last = sockets[^1];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Assert.Equal(0, await last.ReceiveAsync(buffer, SocketFlags.None, timeout.Token));

            foreach (var socket in sockets)
            {
                socket.Dispose();
            }

            sockets.Clear();
            using var response = await RetryAsync(() => proxy.Ollama.GetAsync("api/version"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task OpenAIStream_UpstreamDataLineIsNotJson_EndsWithAnErrorEventNamingTheUrl()
    {
        // Found by the chaos drill: the line was relayed as is, and the OpenAI SDK's parser threw on it, losing the answer.
        await using var proxy = await ProxyFixture.StartAsync();
        var events = LmStudioStreams.Text(Key, "Hel", "lo").ToList();
        proxy.Upstream.Enqueue(FakeResponse.RawSse("data: " + events[0] + "\n\ndata: upstream exploded, not JSON\n\n"
            + string.Concat(events.Skip(1).Select(e => "data: " + e + "\n\n"))));

        using var request = ProxyFixture.CopilotPost("v1/chat/completions", $$"""{"model":"{{Key}}","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        using var response = await ProxyFixture.SendStreamingAsync(proxy.Gateway, request);
        var body = await response.Content.ReadAsStringAsync();

        var data = body.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..]).ToList();
        Assert.Equal("[DONE]", data[^1]);
        Assert.All(data.SkipLast(1), d => JsonDocument.Parse(d).Dispose());
        var error = JsonDocument.Parse(data[^2]).RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains(proxy.Upstream.BaseUrl.Authority, error, StringComparison.Ordinal);
        Assert.Contains("not JSON", error, StringComparison.Ordinal);
        Assert.Contains("Hel", body, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> RetryAsync(Func<Task<HttpResponseMessage>> send)
    {
        // The proxy notices the closed sockets asynchronously; a pooled client connection may have been cut with them.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await send();
            }
            catch (HttpRequestException) when (attempt < 20)
            {
                await Task.Delay(100);
            }
        }
    }

}
