using System.Globalization;
using System.Net;
using CopilotProxy.Configuration;
using CopilotProxy.Http;
using CopilotProxy.OpenAI;
using CopilotProxy.Tests.Harness;
using CopilotProxy.Upstream;
using YamlDotNet.RepresentationModel;
using static CopilotProxy.Tests.Deploy.KubernetesManifests;

namespace CopilotProxy.Tests.Deploy;

/// <summary>
/// deploy/kubernetes must agree with the proxy it runs: the ports and routes the probes use, the shutdown timing, the
/// config file's path, the settings it ends up with. Each check reads the manifests and the proxy's own settings
/// loader, constants or live routes, so a change on either side fails here.
/// </summary>
public class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => new() { "single", "team" };

    [Theory]
    [MemberData(nameof(Overlays))]
    public void FrontDoorPorts_AreTheOnesTheProxyBinds(string overlay)
    {
        var manifests = ForOverlay(overlay);
        var settings = SettingsOf(manifests);

        Assert.Equal(settings.OllamaPort, manifests.ContainerPort("ollama"));
        Assert.Equal(settings.GatewayPort, manifests.ContainerPort("gateway"));
        // The Service and the kubelet reach the pod on its own IP, never on its loopback.
        Assert.True(settings.BindAddress is { } bind && (bind.Equals(IPAddress.Any) || bind.Equals(IPAddress.IPv6Any)),
            $"{overlay}: HOST={settings.Host} binds no address outside the pod");

        var service = LoadAll(Path.Combine(KubernetesRoot, "base", "service.yaml")).Single();
        var targets = Seq(Map(service, "spec"), "ports").Children.Cast<YamlMappingNode>()
            .ToDictionary(p => Scalar(p, "name"), p => manifests.ResolvePort(p.Children["targetPort"]), StringComparer.Ordinal);
        Assert.Equal(settings.OllamaPort, targets["ollama"]);
        Assert.Equal(settings.GatewayPort, targets["gateway"]);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Probes_HitRoutesTheProxyAnswersOnItsGatewayPort_EvenWithLmStudioDown(string overlay)
    {
        var manifests = ForOverlay(overlay);
        var settings = SettingsOf(manifests);
        var liveness = Map(Map(manifests.Container, "livenessProbe"), "httpGet");
        var readiness = Map(Map(manifests.Container, "readinessProbe"), "httpGet");
        Assert.Equal(settings.GatewayPort, manifests.ResolvePort(liveness.Children["port"]));
        Assert.Equal(settings.GatewayPort, manifests.ResolvePort(readiness.Children["port"]));

        // Every replica shares the same upstreams: a readiness probe that failed while LM Studio is down would take
        // all of them out of the Service at once, and clients would get "connection refused" instead of the proxy's
        // 502 naming LM Studio's URL. So both probe paths must answer 200 with the upstream unreachable.
        var upstream = await FakeLmStudio.StartAsync();
        await upstream.DisposeAsync();
        await using var proxy = await ProxyFixture.StartAsync(upstream);

        foreach (var path in new[] { Scalar(liveness, "path"), Scalar(readiness, "path") })
        {
            using var response = await proxy.Gateway.GetAsync(path.TrimStart('/'));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{overlay}: GET {path} on the gateway port answered {(int)response.StatusCode} with LM Studio down");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void TerminationGracePeriod_OutlastsPreStopAndTheWholeDrain(string overlay)
    {
        var manifests = ForOverlay(overlay);
        var settings = SettingsOf(manifests);
        var grace = TimeSpan.FromSeconds(int.Parse(Scalar(manifests.PodSpec, "terminationGracePeriodSeconds"), CultureInfo.InvariantCulture));
        var preStop = TimeSpan.FromSeconds(int.Parse(Scalar(Map(Map(Map(manifests.Container, "lifecycle"), "preStop"), "sleep"), "seconds"), CultureInfo.InvariantCulture));

        // The kubelet's clock starts at preStop; then SIGTERM: listeners accept for the notice, streams run for
        // GRACEFUL_SHUTDOWN_TIMEOUT, and cut streams get the expiry grace to write their in-band error.
        var needed = preStop + ShutdownDrain.MaxNotice + ShutdownDrain.HostShutdownTimeout(settings);
        Assert.True(preStop > TimeSpan.Zero, $"{overlay}: the preStop sleep must give the endpoints time to drop the pod");
        Assert.True(grace > needed,
            $"{overlay}: terminationGracePeriodSeconds {grace.TotalSeconds} must exceed preStop {preStop.TotalSeconds} s + notice "
            + $"{ShutdownDrain.MaxNotice.TotalSeconds} s + GRACEFUL_SHUTDOWN_TIMEOUT {settings.GracefulShutdownTimeout.TotalSeconds} s + "
            + $"expiry grace {ShutdownDrain.ExpiryGrace.TotalSeconds} s = {needed.TotalSeconds} s");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void ReadOnlyRootFileSystem_LeavesNothingThatMustBeWritten(string overlay)
    {
        var manifests = ForOverlay(overlay);
        var security = Map(manifests.Container, "securityContext");
        var mounts = Seq(manifests.Container, "volumeMounts").Children.Cast<YamlMappingNode>().ToList();
        var podSecurity = Map(manifests.PodSpec, "securityContext");

        Assert.Equal("true", Scalar(security, "readOnlyRootFilesystem"));
        Assert.Equal("true", Scalar(podSecurity, "runAsNonRoot"));
        Assert.Equal(DockerfileUser(), Scalar(podSecurity, "runAsUser"));
        // LOG_DIR is checked by writing a file at start-up; on the read-only root that is exit 2.
        var logDir = manifests.ProcessEnvironment.GetValueOrDefault("LOG_DIR");
        Assert.True(string.IsNullOrWhiteSpace(logDir) || mounts.Any(m => Scalar(m, "mountPath") == logDir && !m.Children.ContainsKey("readOnly")),
            $"{overlay}: LOG_DIR={logDir} is on the read-only root file system; leave it empty (console logs) or mount a writable volume there");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void ConfigFile_IsTheConfigMapMountedFromTheOverlay(string overlay)
    {
        var manifests = ForOverlay(overlay);
        var volume = Seq(manifests.PodSpec, "volumes").Children.Cast<YamlMappingNode>().Single(v => Scalar(v, "name") == "config");
        var mount = Seq(manifests.Container, "volumeMounts").Children.Cast<YamlMappingNode>().Single(m => Scalar(m, "name") == "config");

        Assert.Equal("copilot-proxy-config", Scalar(Map(volume, "configMap"), "name"));
        Assert.Equal($"{Scalar(mount, "mountPath")}/{manifests.ConfigKey}", manifests.ProcessEnvironment[GatewayConfigLoader.ConfigFileVariable]);
        var result = GatewayConfigLoader.Load(new ConfigFileLocation(manifests.ConfigFile, IsExplicit: true), Lookup(manifests.ProcessEnvironment));
        Assert.True(result.Succeeded, string.Join(Environment.NewLine, result.Errors));
        Assert.Empty(result.Config!.Ignored);
    }

    [Fact]
    public void SingleOverlay_ServesEverythingOnTheOneBoxNamedInLmStudioUrl()
    {
        var manifests = ForOverlay("single");
        var settings = SettingsOf(manifests);
        var config = LoadConfig(manifests);

        Assert.Equal("gpu-box.lan", settings.LmStudioUrl.Host);
        Assert.True(config.HasWildcard);
        Assert.All(config.Models, m => Assert.True(UpstreamTarget.For(m, settings).IsDefault, $"{m.ModelName} goes elsewhere than LMSTUDIO_URL"));
    }

    [Fact]
    public void TeamOverlay_BalancesEachGroupAcrossBoxesWithFallbacks()
    {
        var manifests = ForOverlay("team");
        var settings = SettingsOf(manifests);
        var config = LoadConfig(manifests);
        string[] Boxes(string group) => config.FindGroup(group).Select(m => UpstreamTarget.For(m, settings).BaseUrl.Authority).ToArray();

        // No wildcard: the team sees exactly the groups the file names.
        Assert.False(config.HasWildcard);
        Assert.Equal(["coder", "reasoning", "coder-small", "embed", "coder-box-1", "coder-box-2"], config.Models.Select(m => m.ModelName).Distinct());
        Assert.Equal(["gpu-box-1.lan:1234", "gpu-box-2.lan:1234", "gpu-box-3.lan:8080"], Boxes("coder"));
        Assert.Equal(["gpu-box-1.lan:1234", "gpu-box-2.lan:1234"], Boxes("reasoning"));
        Assert.Equal(["gpu-box-3.lan:8080", "gpu-box-2.lan:1234"], Boxes("coder-small"));
        Assert.Equal(["gpu-box-1.lan:1234", "gpu-box-2.lan:1234"], Boxes("embed"));
        Assert.All(config.FindGroup("embed"), m => Assert.Equal(ModelMode.Embedding, m.InfoOverride?.Mode));
        // One model, one upstream id per box: llama.cpp's server knows it by its --alias.
        Assert.Equal(["qwen/qwen3-coder-30b", "qwen/qwen3-coder-30b", "qwen3-coder-30b"], config.FindGroup("coder").Select(m => m.UpstreamModel));

        // Every box is its own upstream; LMSTUDIO_URL serves nothing here.
        var upstreams = config.Models.Select(m => UpstreamTarget.For(m, settings)).Distinct().ToList();
        Assert.Equal(3, upstreams.Count);
        Assert.DoesNotContain(upstreams, u => u.IsDefault);

        Assert.Equal(
            [("coder", "coder-small"), ("reasoning", "coder, coder-small")],
            config.Router.Fallbacks.Select(f => (f.From, string.Join(", ", f.To))));
        Assert.All(config.Router.Fallbacks.SelectMany(f => f.To), to => Assert.NotEmpty(config.FindGroup(to)));
        Assert.Equal(2, config.Router.NumRetries);
        Assert.Equal(TimeSpan.FromSeconds(30), config.Router.CooldownTime);

        // Responses chains (previous_response_id) live on one box: the pinned names have one deployment and no fallback.
        foreach (var pinned in new[] { "coder-box-1", "coder-box-2" })
        {
            Assert.Single(config.FindGroup(pinned));
            Assert.DoesNotContain(config.Router.Fallbacks, f => f.From == pinned);
        }
    }

    [Fact]
    public async Task TeamConfig_OnThreeLiveBoxes_BalancesTheGroupAndFallsBackWhenBoxesGoDown()
    {
        // The team's file as shipped, with each box's address pointed at a fake of that box on loopback.
        const string Coder = "qwen/qwen3-coder-30b";
        var box1 = await FakeLmStudio.StartAsync();
        await using var box2 = await FakeLmStudio.StartAsync();
        await using var box3 = await FakeLmStudio.StartAsync(FakeApiLevel.OpenAIOnly);
        box1.Models.AddRange([FakeModel.Llm(Coder), FakeModel.Llm("openai/gpt-oss-120b", reasoning: true)]);
        box2.Models.AddRange([FakeModel.Llm(Coder), FakeModel.Llm("openai/gpt-oss-120b", reasoning: true), FakeModel.Llm("qwen/qwen2.5-coder-7b-instruct")]);
        box3.Models.AddRange([FakeModel.Llm("qwen3-coder-30b"), FakeModel.Llm("qwen2.5-coder-7b-instruct")]);
        var manifests = ForOverlay("team");
        var yaml = File.ReadAllText(manifests.ConfigFile)
            .Replace("http://gpu-box-1.lan:1234/", box1.BaseUrl.ToString(), StringComparison.Ordinal)
            .Replace("http://gpu-box-2.lan:1234/", box2.BaseUrl.ToString(), StringComparison.Ordinal)
            .Replace("http://gpu-box-3.lan:8080/", box3.BaseUrl.ToString(), StringComparison.Ordinal);
        var loaded = GatewayConfigLoader.Parse(yaml, "config.yaml", Lookup(manifests.ProcessEnvironment));
        Assert.True(loaded.Succeeded, string.Join(Environment.NewLine, loaded.Errors));
        await using var proxy = await ProxyFixture.StartAsync(box1, config: loaded.Config);

        using var models = await proxy.Gateway.GetAsync("v1/models");
        var listed = System.Text.Json.JsonDocument.Parse(await models.Content.ReadAsStringAsync()).RootElement
            .GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).Order(StringComparer.Ordinal);
        Assert.Equal(["coder", "coder-box-1", "coder-box-2", "coder-small", "embed", "reasoning"], listed);

        // Three requests for "coder": one per box, each sent the id that box knows the model by.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await ChatAsync(proxy, "coder")).Status);
        }

        Assert.Equal(Coder, box1.Requests.Single(r => r.Path == ChatPath).Json!["model"]!.GetValue<string>());
        Assert.Equal(Coder, box2.Requests.Single(r => r.Path == ChatPath).Json!["model"]!.GetValue<string>());
        Assert.Equal("qwen3-coder-30b", box3.Requests.Single(r => r.Path == ChatPath).Json!["model"]!.GetValue<string>());

        // Both "reasoning" boxes go down: the request falls back to "coder", whose only live box is box 3.
        await box1.DisposeAsync();
        await box2.DisposeAsync();
        var (status, answeredBy) = await ChatAsync(proxy, "reasoning");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(box3.BaseUrl.ToString(), answeredBy);
        Assert.Equal(2, box3.CountOf(ChatPath));
    }

    private const string ChatPath = "/v1/chat/completions";

    private static async Task<(HttpStatusCode Status, string? AnsweredBy)> ChatAsync(ProxyFixture proxy, string model)
    {
        using var content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}],"stream":false}""", System.Text.Encoding.UTF8, "application/json");
        using var response = await proxy.Gateway.PostAsync("v1/chat/completions", content);
        return (response.StatusCode, response.Headers.TryGetValues(OpenAIRelay.ApiBaseHeader, out var values) ? values.Single() : null);
    }

    [Fact]
    public void TeamOverlay_RequiresTheGatewayKeySecret()
    {
        var manifests = ForOverlay("team");
        var apiKey = Seq(manifests.Container, "env").Children.Cast<YamlMappingNode>().Single(e => Scalar(e, "name") == "API_KEY");
        var secret = Map(Map(apiKey, "valueFrom"), "secretKeyRef");

        Assert.Equal("false", Scalar(secret, "optional"));
    }

    [Fact]
    public void TeamOverlay_TakesDatabaseUrlFromASecret_SoReplicasShareKeys()
    {
        var manifests = ForOverlay("team");
        var database = Seq(manifests.Container, "env").Children.Cast<YamlMappingNode>().Single(e => Scalar(e, "name") == "DATABASE_URL");
        var secret = Map(Map(database, "valueFrom"), "secretKeyRef");

        Assert.Equal("copilot-proxy-database", Scalar(secret, "name"));
        Assert.Equal("url", Scalar(secret, "key"));
        Assert.Equal("false", Scalar(secret, "optional"));
    }

    private static GatewayConfig LoadConfig(KubernetesManifests manifests)
    {
        var result = GatewayConfigLoader.Load(new ConfigFileLocation(manifests.ConfigFile, IsExplicit: true), Lookup(manifests.ProcessEnvironment));
        Assert.True(result.Succeeded, string.Join(Environment.NewLine, result.Errors));
        return result.Config!;
    }

    /// <summary>The settings the proxy starts with: the container's environment first, then config.yaml's environment_variables.</summary>
    private static ProxySettings SettingsOf(KubernetesManifests manifests)
    {
        var environment = manifests.ProcessEnvironment;
        var config = LoadConfig(manifests);
        // LOG_DIR is judged by ReadOnlyRootFileSystem_LeavesNothingThatMustBeWritten; the loader would create it here.
        environment["LOG_DIR"] = "";
        var result = SettingsLoader.Load(SettingsLoader.EnvironmentFirst(Lookup(environment), config.EnvironmentVariables));
        Assert.True(result.Settings is not null, $"{manifests.Overlay}: {string.Join("; ", result.Errors)}");
        return result.Settings;
    }

    private static Func<string, string?> Lookup(IReadOnlyDictionary<string, string> environment) => name => environment.GetValueOrDefault(name);
}
