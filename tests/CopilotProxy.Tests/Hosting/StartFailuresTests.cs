using System.Net.Sockets;
using CopilotProxy.Configuration;
using CopilotProxy.Hosting;
using Microsoft.AspNetCore.Connections;

namespace CopilotProxy.Tests.Hosting;

/// <summary>
/// A failure to open the ports is explained in one line that names the setting to change. The port-in-use and
/// foreign-HOST cases run against the real binary in CommandLineTests; a refused low port needs a non-root user, so its
/// wording is checked here, on the exception the runtime throws.
/// </summary>
public sealed class StartFailuresTests
{
    [Fact]
    public void LowPortRefused_NamesThePortAndTheCapability()
    {
        var why = StartFailures.Explain(new SocketException((int)SocketError.AccessDenied), new ProxySettings { OllamaPort = 80, GatewayPort = 4000 });

        Assert.NotNull(why);
        Assert.StartsWith("Not allowed to listen on port 80:", why, StringComparison.Ordinal);
        Assert.Contains("CAP_NET_BIND_SERVICE", why, StringComparison.Ordinal);
        Assert.Contains("OLLAMA_PORT / LITELLM_PORT of 1024 or above", why, StringComparison.Ordinal);
    }

    [Fact]
    public void HighPortRefused_BlamesAPolicy_NotTheRoot()
    {
        var why = StartFailures.Explain(new SocketException((int)SocketError.AccessDenied), new ProxySettings { Host = "0.0.0.0" });

        Assert.NotNull(why);
        Assert.StartsWith("Not allowed to listen on 0.0.0.0, ports 11434 and 4000:", why, StringComparison.Ordinal);
        Assert.DoesNotContain("CAP_NET_BIND_SERVICE", why, StringComparison.Ordinal);
    }

    [Fact]
    public void PortInUse_KeepsKestrelsAddressAndSaysWhoUsuallyHoldsIt()
    {
        var failure = new IOException("Failed to bind to address http://127.0.0.1:11434: address already in use.", new AddressInUseException("Address already in use"));

        var why = StartFailures.Explain(failure, new ProxySettings());

        Assert.StartsWith("Failed to bind to address http://127.0.0.1:11434: address already in use. Another program holds the port", why, StringComparison.Ordinal);
    }

    [Fact]
    public void AnyOtherFailure_IsNotExplainedAway()
    {
        Assert.Null(StartFailures.Explain(new InvalidOperationException("a hosted service failed"), new ProxySettings()));
        Assert.Null(StartFailures.Explain(new SocketException((int)SocketError.ConnectionRefused), new ProxySettings()));
    }
}
