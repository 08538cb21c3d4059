using System.Net;
using CopilotProxy.Catalog;
using CopilotProxy.Configuration;
using CopilotProxy.Dashboard;
using CopilotProxy.Diagnostics;
using CopilotProxy.Health;
using CopilotProxy.Http;
using CopilotProxy.Keys;
using CopilotProxy.Loading;
using CopilotProxy.Ollama;
using CopilotProxy.OpenAI;
using CopilotProxy.Routing;
using CopilotProxy.Telemetry;
using CopilotProxy.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace CopilotProxy.Hosting;

/// <summary>Composes the proxy: one process, two front doors, one model catalog over the upstreams. Tests build the very same app on port 0.</summary>
public static class ProxyApp
{
    /// <param name="settings">The validated settings.</param>
    /// <param name="config">config.yaml as loaded; null for zero configuration.</param>
    /// <param name="time">The clock for timers, retries, cooldowns and reloads; null for the system clock (tests pass a fake one).</param>
    public static WebApplication Build(ProxySettings settings, GatewayConfig? config = null, TimeProvider? time = null)
    {
        config ??= GatewayConfig.Empty;
        // The empty builder, not the slim one: the proxy reads its own settings (SettingsLoader), so appsettings.json,
        // ASPNETCORE_* configuration and their file watchers would be dead weight in the binary.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Services.AddRoutingCore();

        ConfigureLogging(builder.Logging, settings);
        var bindings = new FrontDoorBindings();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = settings.MaxRequestBodyBytes;
            ClientLimits.Apply(kestrel.Limits, settings);
            bindings.OllamaListener = Listen(kestrel, settings, settings.OllamaPort);
            bindings.GatewayListener = Listen(kestrel, settings, settings.GatewayPort);
        });

        // Kestrel cuts in-flight streams when this runs out; ShutdownDrain ends them cleanly a little earlier.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownDrain.HostShutdownTimeout(settings));
        builder.Services.AddSingleton<ShutdownDrain>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ShutdownDrain>());

        builder.Services.AddMetrics();
        builder.Services.AddSingleton<ProxyMetrics>();
        builder.Services.AddSingleton<LiveTraffic>();
        // The request inspector's bodies: CAPTURE_LIMIT exchanges, and never more than CaptureBytes in all.
        builder.Services.AddSingleton(new CaptureStore(settings.CaptureLimit, CaptureBytes));
        if (Tracing.Start(settings) is { } tracing)
        {
            // A factory registration, so the container disposes the provider at shutdown, which exports the last spans.
            builder.Services.AddSingleton(_ => tracing);
        }

        builder.Services.AddSingleton<PrometheusExporter>();

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(bindings);
        builder.Services.AddSingleton(time ?? TimeProvider.System);
        builder.Services.AddSingleton<MatcherPolicy, FrontDoorMatcherPolicy>();
        builder.Services.AddSingleton(new GatewayConfigHolder(config));
        builder.Services.AddSingleton<UpstreamRegistry>();
        // The default upstream (LMSTUDIO_URL), for code that talks to one upstream only; per-model calls use CatalogModel.Upstream.
        builder.Services.AddSingleton(services => services.GetRequiredService<UpstreamRegistry>().Default);
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddHostedService<CatalogRefreshService>();
        builder.Services.AddSingleton<ConfigReloader>().AddHostedService(services => services.GetRequiredService<ConfigReloader>());
        builder.Services.AddSingleton<Preflight>();
        builder.Services.AddHostedService(services => services.GetRequiredService<Preflight>());
        builder.Services.AddSingleton<DeploymentCooldowns>();
        builder.Services.AddSingleton<DeploymentRouter>();
        builder.Services.AddSingleton<OpenAIRelay>().AddSingleton<EventApiRelay>();
        builder.Services.AddSingleton<ModelLifecycle>().AddSingleton<ModelDownloads>().AddSingleton<ModelResolution>().AddSingleton<StreamTranslation>()
            .AddSingleton<ChatHandler>().AddSingleton<GenerateHandler>().AddSingleton<EmbedHandler>();
        builder.Services.AddSingleton<ModelActions>().AddSingleton<UpstreamProbe>().AddSingleton<DashboardEvents>();
        builder.Services.AddVirtualKeys(settings, config);

        var app = builder.Build();
        _ = app.Services.GetService<OpenTelemetry.Trace.TracerProvider>();
        var metrics = app.Services.GetRequiredService<ProxyMetrics>();
        // Listening before the hosted services start, so the first catalog refresh is counted.
        var exporter = app.Services.GetRequiredService<PrometheusExporter>();
        app.Services.GetRequiredService<ModelCatalog>().Refreshed += (_, failure) => metrics.RecordCatalogRefresh(failure is null);

        app.UseMiddleware<RequestLogging>();
        app.Use(ErrorBoundary.InvokeAsync);
        app.Use(new BrowserGuard(settings, app.Logger).InvokeAsync);
        app.Use(KeyAuth.InvokeAsync);

        app.MapOllamaApi();
        app.MapOpenAIApi(FrontDoor.Ollama);
        app.MapOpenAIApi(FrontDoor.OpenAI);
        app.MapHealth();
        app.MapClientSetups();
        app.MapDashboard();
        app.MapKeyApi();
        app.MapGet("/metrics", new RequestDelegate(exporter.WriteAsync)).WithMetadata(new FrontDoorMetadata(FrontDoor.OpenAI));
        app.MapUnknownRoutes();

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            StartupLog.Listening(
                app.Logger, ProductVersion.Current,
                $"http://{settings.Host}:{bindings.OllamaPort}", $"http://{settings.Host}:{bindings.GatewayPort}", settings.LmStudioUrl);
            LogConfiguration(app.Logger, settings, config);
            app.Services.GetRequiredService<Preflight>().HostStarted();
        });
        return app;
    }

    /// <summary>The most memory the request inspector's captured bodies may take (UTF-16 text).</summary>
    public const long CaptureBytes = 64L * 1024 * 1024;

    /// <summary>What config.yaml changes, said once at startup: ignored keys, remapped addresses, whether the gateway is open.</summary>
    private static void LogConfiguration(ILogger logger, ProxySettings settings, GatewayConfig config)
    {
        var source = config.SourcePath ?? "config.yaml";
        if (config.IsFilePresent)
        {
            StartupLog.ConfigLoaded(logger, Path.GetFullPath(source), config.Models.Count, config.Models.Select(m => m.ModelName).Distinct(StringComparer.Ordinal).Count());
        }
        else
        {
            StartupLog.NoConfig(logger, GatewayConfigLoader.DescribeSearched(source, Environment.GetEnvironmentVariable));
        }

        foreach (var ignored in config.Ignored)
        {
            ConfigLog.ConfigKeyIgnored(logger, source, ignored.Line, ignored.KeyPath, ignored.Reason);
        }

        foreach (var entry in config.Models.Where(UpstreamTarget.IsLmStudioDefaultAddress))
        {
            if (entry.ApiBase is { } apiBase && apiBase != settings.LmStudioUrl)
            {
                StartupLog.DefaultAddressMapped(logger, source, entry.Line, entry.ModelName, apiBase, settings.LmStudioUrl);
            }
        }

        if (settings.ApiKey is null && string.IsNullOrEmpty(config.MasterKey))
        {
            StartupLog.GatewayOpen(logger);
        }

        foreach (var disagreement in OllamaVariables.Disagreements(Environment.GetEnvironmentVariable, settings))
        {
            StartupLog.OllamaVariableIgnored(logger, disagreement);
        }
    }

    private static ListenOptions Listen(KestrelServerOptions kestrel, ProxySettings settings, int port)
    {
        ListenOptions? captured = null;
        if (settings.BindAddress is { } address)
        {
            kestrel.Listen(address, port, o => captured = o);
        }
        else
        {
            kestrel.ListenLocalhost(port, o => captured = o);
        }

        return captured!;
    }

    private static void ConfigureLogging(ILoggingBuilder logging, ProxySettings settings)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(settings.LogLevel);
        // ASP.NET Core's per-request chatter drowns the proxy's own lines; it stays available under DEBUG_LOGGING.
        logging.AddFilter("Microsoft", settings.DebugLogging ? LogLevel.Debug : LogLevel.Warning);
        logging.AddFilter("System.Net.Http", settings.DebugLogging ? LogLevel.Debug : LogLevel.Warning);
        // The container sets DOTNET_RUNNING_IN_CONTAINER; its log driver wants JSON even when `docker run -t` gives a terminal.
        var inContainer = string.Equals(Environment.GetEnvironmentVariable("DOTNET_RUNNING_IN_CONTAINER"), "true", StringComparison.OrdinalIgnoreCase);
        var format = ConsoleFormats.Choose(settings.LogFormat, settings.DevMode, !Console.IsOutputRedirected, inContainer);
        // A factory registration, so the container disposes the provider and the queued lines reach stdout at exit.
        logging.Services.AddSingleton<ILoggerProvider>(_ => new ConsoleLog(format, Console.Out, colors: !Console.IsOutputRedirected));

        if (settings.LogDir is { } directory)
        {
            // A factory registration, so the container disposes the provider and the last lines reach the file at exit.
            logging.Services.AddSingleton<ILoggerProvider>(_ => LogFiles.CreateProvider(settings, directory));
        }
    }
}

/// <summary>Last line of defence: an unexpected exception still gets an answer in the front door's shape, and the process keeps serving.</summary>
internal static class ErrorBoundary
{
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (ClientLeft(context, ex))
        {
            // The client left (or reset the connection while sending its body): nobody to answer, and nothing for an
            // operator to fix, so no error line. A reset can surface from the body read before Kestrel flags the request
            // aborted, so the status is set here for the request's log line and metrics to say 499, not 200.
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = RequestLogging.ClientClosedRequest;
            }
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex)
        {
            // Kestrel's verdict on how the client framed its request (a body shorter than its Content-Length, a broken
            // chunk): the client's mistake, answered with Kestrel's status in the front door's shape, not a 500.
            if (!context.Response.HasStarted)
            {
                await WriteErrorAsync(context, ex.StatusCode, $"The request could not be read: {ex.Message} Check the client's Content-Length and body.", "invalid_request");
            }
        }
        catch (Exception ex)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("CopilotProxy.ErrorBoundary");
            RelayLog.Unhandled(logger, ex, context.Request.Method, context.Request.Path);
            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }

            await WriteErrorAsync(context, StatusCodes.Status500InternalServerError,
                "The proxy hit an internal error; it has been logged. Please report it with the log line.", "internal_error");
        }
    }

    private static bool ClientLeft(HttpContext context, Exception ex) =>
        ex is ConnectionResetException
        || (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or IOException);

    private static Task WriteErrorAsync(HttpContext context, int status, string message, string code) =>
        context.GetFrontDoor() == FrontDoor.Ollama && context.Request.Path.StartsWithSegments("/api")
            ? OllamaErrors.WriteAsync(context, status, message)
            : OpenAIErrors.WriteAsync(context, status, message, code: code);
}
