using CopilotProxy.Configuration;
using CopilotProxy.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CopilotProxy.Hosting;

/// <summary>
/// The OpenTelemetry SDK with its OTLP exporter, started only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. The SDK reads
/// the standard <c>OTEL_*</c> variables itself (protocol grpc or http/protobuf, headers, timeout, sampler, batch limits)
/// from the configuration it is given: the proxy's own view of them, so config.yaml's <c>environment_variables:</c> count.
/// </summary>
internal static class Tracing
{
    public const string DefaultServiceName = "copilot-proxy";

    /// <summary>The tracer provider (disposed at shutdown, which flushes the last batch), or null when tracing is off.</summary>
    public static TracerProvider? Start(ProxySettings settings)
    {
        if (!settings.TracingEnabled)
        {
            return null;
        }

        var variables = settings.OpenTelemetry;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(variables.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
        var serviceName = variables.GetValueOrDefault("OTEL_SERVICE_NAME") ?? DefaultServiceName;
        return Sdk.CreateTracerProviderBuilder()
            // Registered before the SDK's own default (the process environment), so tests and config.yaml's values are what it reads.
            .ConfigureServices(services => services.AddSingleton<IConfiguration>(configuration))
            .ConfigureResource(resource => resource.AddService(serviceName, serviceVersion: typeof(Tracing).Assembly.GetName().Version?.ToString(3)))
            .AddSource(RequestTracing.SourceName)
            .AddOtlpExporter()
            .Build();
    }
}
