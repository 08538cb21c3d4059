using CopilotProxy.Configuration;
using CopilotProxy.Upstream;

namespace CopilotProxy.Catalog;

/// <summary>
/// Builds the public model list both front doors show from config.yaml and what each upstream reported.
/// </summary>
/// <remarks>
/// Rules, in order:
/// 1. No entries at all: every model the default upstream reported, under its own key.
/// 2. Each non-wildcard <c>model_name</c>, in file order, is one model whose deployments are its entries. Its metadata
///    (capabilities, context length, size) is that of the first entry whose upstream reported the model; an entry whose
///    model was not (yet) reported still appears, as a tool-capable chat model, so a configured alias never vanishes from
///    Copilot's model picker while LM Studio is still downloading it.
/// 3. Each wildcard entry adds every model its upstream reported, as <c>prefix + key</c>, unless that name is taken.
/// 4. <c>model_info</c> overrides whatever the upstream reported.
/// </remarks>
public static class CatalogView
{
    public static List<CatalogModel> Build(GatewayConfig config, Func<ModelEntry, UpstreamClient> upstreamFor, IReadOnlyList<UpstreamStatus> statuses)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(upstreamFor);
        ArgumentNullException.ThrowIfNull(statuses);

        var result = new List<CatalogModel>();
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        UpstreamStatus? StatusOf(UpstreamClient upstream) => statuses.FirstOrDefault(s => s.Upstream == upstream);

        if (config.Models.Count == 0)
        {
            foreach (var status in statuses.Where(s => s.Upstream.Target.IsDefault))
            {
                foreach (var model in status.Models.Where(m => taken.Add(m.Id)))
                {
                    result.Add(model with { Deployments = [new Deployment(status.Upstream, model.Id, WithReportedSlots(ModelDefaults.None, model))], Source = status.Source });
                }
            }

            return result;
        }

        foreach (var group in config.Models.Where(e => !e.IsWildcard).GroupBy(e => e.ModelName, StringComparer.Ordinal))
        {
            if (!taken.Add(group.Key))
            {
                continue;
            }

            var entries = group.ToList();
            var deployments = entries.Select(e => new Deployment(upstreamFor(e), e.UpstreamModel, e.Defaults)).ToArray();
            CatalogModel? reported = null;
            UpstreamStatus? reporter = null;
            for (var i = 0; i < deployments.Length && reported is null; i++)
            {
                reporter = StatusOf(deployments[i].Upstream);
                reported = reporter is null ? null : FindReported(reporter.Models, deployments[i].UpstreamModel);
            }

            var model = reported is null
                ? Undiscovered(group.Key, deployments[0].UpstreamModel)
                : reported with { Id = group.Key, UpstreamId = deployments[0].UpstreamModel, DisplayName = reported.DisplayName };
            var info = entries.Select(e => e.InfoOverride).FirstOrDefault(o => o is not null);
            result.Add(Override(model, info) with { Deployments = deployments, Source = reported is null ? null : reporter?.Source });
        }

        foreach (var entry in config.Models.Where(e => e.IsWildcard))
        {
            var upstream = upstreamFor(entry);
            if (StatusOf(upstream) is not { } status)
            {
                continue;
            }

            var prefix = entry.ModelName[..^1];
            foreach (var model in status.Models)
            {
                var name = prefix + model.Id;
                if (taken.Add(name))
                {
                    var exposed = model with { Id = name, UpstreamId = model.Id, Deployments = [new Deployment(upstream, model.Id, WithReportedSlots(entry.Defaults, model))], Source = status.Source };
                    result.Add(Override(exposed, entry.InfoOverride));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// The upstream's own entry for a configured id: exact (any case), else a unique key that ends in <c>/id</c>, because
    /// files written for older LM Studio builds name <c>qwen2.5-coder-32b-instruct</c> where 0.4 lists <c>qwen/qwen2.5-coder-32b-instruct</c>.
    /// </summary>
    private static CatalogModel? FindReported(IReadOnlyList<CatalogModel> models, string upstreamModel)
    {
        var exact = models.FirstOrDefault(m => m.Id.Equals(upstreamModel, StringComparison.OrdinalIgnoreCase));
        if (exact is not null)
        {
            return exact;
        }

        var suffixed = models.Where(m => m.Id.EndsWith("/" + upstreamModel, StringComparison.OrdinalIgnoreCase)).Take(2).ToList();
        return suffixed.Count == 1 ? suffixed[0] : null;
    }

    private static CatalogModel Undiscovered(string name, string upstreamModel) => new()
    {
        Id = name,
        UpstreamId = upstreamModel,
        // Copilot lists a model for agent mode only with "tools"; every OpenAI-compatible upstream accepts the field.
        Tools = true,
        FirstSeen = DateTimeOffset.UtcNow,
    };

    /// <summary>
    /// A discovered model's deployment takes LM Studio's parallel slots as its fair-queue cap unless config.yaml set
    /// <c>max_parallel_requests</c>; named entries use only the file's value, as their model may sit on several upstreams.
    /// </summary>
    private static ModelDefaults WithReportedSlots(ModelDefaults defaults, CatalogModel model) =>
        defaults.MaxParallelRequests is null && model.LoadedParallel is > 0 and var slots ? defaults with { MaxParallelRequests = slots } : defaults;

    private static CatalogModel Override(CatalogModel model, ModelInfoOverride? info)
    {
        if (info is null)
        {
            return model;
        }

        var kind = info.Mode switch
        {
            ModelMode.Embedding => ModelKind.Embedding,
            ModelMode.Chat or ModelMode.Completion => ModelKind.Llm,
            _ => model.Kind,
        };
        return model with
        {
            Kind = kind,
            // A configured context length is what the user wants budgeted, so it replaces the loaded one too.
            LoadedContextLength = info.ContextLength ?? model.LoadedContextLength,
            MaxContextLength = info.ContextLength ?? model.MaxContextLength,
            MaxOutputTokens = info.MaxOutputTokens ?? model.MaxOutputTokens,
            MinContextLength = info.MinContextLength ?? model.MinContextLength,
            Tools = kind == ModelKind.Llm && (info.SupportsTools ?? model.Tools),
            Vision = info.SupportsVision ?? model.Vision,
            Thinking = info.SupportsReasoning ?? model.Thinking,
            ToolCallFormat = info.ToolCallFormat ?? model.ToolCallFormat,
            ReasoningFormat = info.ReasoningFormat ?? model.ReasoningFormat,
        };
    }
}
