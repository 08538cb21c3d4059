using System.Buffers;
using System.Collections.Frozen;
using CopilotProxy.Configuration;
using CopilotProxy.ToolCalls.Formats;

namespace CopilotProxy.ToolCalls;

/// <summary>How far the text at a position matches the markers of the enabled formats.</summary>
public enum MarkerMatch
{
    None,
    /// <summary>The text ends inside a marker: wait for more before deciding.</summary>
    Partial,
    Full,
}

/// <summary>
/// A set of enabled tool-call formats and their start markers: <see cref="Auto"/> (every format), or the one format
/// config.yaml's <c>model_info.tool_call_format</c> names.
/// </summary>
public sealed class ToolCallFormats
{
    /// <summary>Every format, in the order they are tried when several share a marker (<c>&lt;tool_call&gt;</c>: JSON, then XML, then GLM's key/value).</summary>
    public static IReadOnlyList<IToolCallFormat> All { get; } =
    [
        new HermesFormat(), new Qwen3CoderFormat(), new SeedOssFormat(), new GlmFormat(), new MistralFormat(), new Llama3Format(),
        new PythonicFormat(), new DeepSeekFormat(), new KimiK2Format(), new MiniMaxM2Format(), new HarmonyFormat(), new GraniteFormat(),
        new Phi4MiniFormat(), new Gemma4Format(), new Olmo3Format(), new JsonFormat(),
    ];

    public static ToolCallFormats Auto { get; } = new(All);

    private static readonly FrozenDictionary<string, ToolCallFormats> Single =
        All.ToFrozenDictionary(f => f.Name, f => new ToolCallFormats([f]), StringComparer.OrdinalIgnoreCase);

    private readonly (byte[] Marker, IToolCallFormat Format, bool StartOnly)[] _markers;

    private ToolCallFormats(IReadOnlyList<IToolCallFormat> formats)
    {
        Formats = formats;
        _markers = [.. formats.SelectMany(f => f.Markers.Select(m => (m, f, f.AtStartOnly)).Concat(f.StartMarkers.Select(m => (m, f, true))))];
        AnywhereFirstBytes = SearchValues.Create([.. _markers.Where(m => !m.StartOnly).Select(m => m.Marker[0]).Distinct()]);
    }

    public IReadOnlyList<IToolCallFormat> Formats { get; }

    /// <summary>The bytes a marker that counts mid-text starts with: content without them passes through at once.</summary>
    public SearchValues<byte> AnywhereFirstBytes { get; }

    /// <summary>The named formats only (the fuzz targets' families).</summary>
    public static ToolCallFormats Only(params string[] names) =>
        new([.. names.Select(n => All.FirstOrDefault(f => f.Name == n) ?? throw new ArgumentException($"No tool-call format is named {n}.", nameof(names)))]);

    /// <summary>The formats a model's setting enables; null for <c>off</c>. A missing setting is <c>auto</c>.</summary>
    public static ToolCallFormats? ForSetting(string? setting) =>
        setting is null || setting.Equals(ToolCallFormatNames.Auto, StringComparison.OrdinalIgnoreCase) ? Auto
        : setting.Equals(ToolCallFormatNames.Off, StringComparison.OrdinalIgnoreCase) ? null
        : Single.GetValueOrDefault(setting, Auto);

    /// <summary>
    /// Matches the markers at the start of <paramref name="text"/>; on <see cref="MarkerMatch.Full"/>, <paramref name="matched"/>
    /// holds the formats whose marker it is. A longer marker that may still match makes it wait (unless <paramref name="final"/>).
    /// </summary>
    public MarkerMatch Match(ReadOnlySpan<byte> text, bool atStart, bool final, List<IToolCallFormat> matched)
    {
        matched.Clear();
        var partial = false;
        foreach (var (marker, format, startOnly) in _markers)
        {
            if ((startOnly && !atStart) || marker[0] != text[0])
            {
                continue;
            }

            switch (JsonText.Matches(text, 0, marker))
            {
                case 1 when !matched.Contains(format):
                    matched.Add(format);
                    break;
                case 0:
                    partial = true;
                    break;
            }
        }

        if (partial && !final)
        {
            matched.Clear();
            return MarkerMatch.Partial;
        }

        return matched.Count > 0 ? MarkerMatch.Full : MarkerMatch.None;
    }
}
