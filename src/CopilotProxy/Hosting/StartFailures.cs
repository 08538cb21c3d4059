using System.Net.Sockets;
using CopilotProxy.Configuration;
using Microsoft.AspNetCore.Connections;

namespace CopilotProxy.Hosting;

/// <summary>
/// Why the proxy could not open its ports, as one line that names the setting to change. These are setup problems, not
/// crashes: without this the process aborts with an unhandled exception (and a core dump) whose stack trace, in a
/// Native AOT build, is addresses only.
/// </summary>
internal static class StartFailures
{
    /// <summary>The line to print for a failure to listen; null for any other failure, which stays an error.</summary>
    public static string? Explain(Exception failure, ProxySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var ports = $"{settings.OllamaPort} and {settings.GatewayPort}";
        var lowest = Math.Min(settings.OllamaPort, settings.GatewayPort);
        return failure switch
        {
            IOException { InnerException: AddressInUseException } =>
                $"{failure.Message} Another program holds the port (a real Ollama on 11434, LiteLLM on 4000, or a second copilot-proxy). Stop it or choose other ports with OLLAMA_PORT / LITELLM_PORT; `copilot-proxy doctor` shows which.",
            SocketException { SocketErrorCode: SocketError.AddressNotAvailable } =>
                $"Cannot listen on HOST={settings.Host} (ports {ports}): no network interface of this machine has that address. Set HOST to 127.0.0.1 for this machine only, 0.0.0.0 for every interface, or one of this machine's own addresses.",
            SocketException { SocketErrorCode: SocketError.AccessDenied } when lowest < 1024 =>
                $"Not allowed to listen on port {lowest}: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability. Choose OLLAMA_PORT / LITELLM_PORT of 1024 or above (the defaults are 11434 and 4000).",
            SocketException { SocketErrorCode: SocketError.AccessDenied } =>
                $"Not allowed to listen on {settings.Host}, ports {ports}: {failure.Message}. A security policy (SELinux, AppArmor, a container's seccomp profile) refuses it; allow it there or choose other ports with OLLAMA_PORT / LITELLM_PORT.",
            _ => null,
        };
    }
}
