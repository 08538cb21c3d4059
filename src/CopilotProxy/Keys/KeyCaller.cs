using CopilotProxy.Queueing;
using Microsoft.AspNetCore.Http;

namespace CopilotProxy.Keys;

/// <summary>Who sent a request, once the gateway's key check has run: the master key, a virtual key, or nobody (an open front door).</summary>
public sealed class KeyCaller
{
    public static KeyCaller Master { get; } = new(null, isMaster: true);

    public KeyCaller(VirtualKey? key, bool isMaster = false)
    {
        Key = key;
        IsMaster = isMaster;
    }

    /// <summary>The virtual key; null for the master key.</summary>
    public VirtualKey? Key { get; }

    public bool IsMaster { get; }

    /// <summary>The key's <see cref="VirtualKey.Label"/>, or "master": the label for metrics and the dashboard.</summary>
    public string Label => Key?.Label ?? "master";

    public bool Allows(string model) => Key?.Allows(model) ?? true;

    /// <summary>Whom the fair queue takes turns between: each virtual key, and one shared turn for requests without one.</summary>
    public static QueueTurn QueueTurnOf(HttpContext context) =>
        context.Features.Get<KeyCaller>()?.Key is { } key ? new QueueTurn(key.Token, key.Label) : QueueTurn.Shared;
}

public static class KeyCallerExtensions
{
    public static KeyCaller? GetKeyCaller(this HttpContext context) => context.Features.Get<KeyCaller>();

    /// <summary>Whether the request's key may use <paramref name="model"/>; requests without a virtual key may use all.</summary>
    public static bool KeyAllows(this HttpContext context, string model) => context.Features.Get<KeyCaller>()?.Allows(model) ?? true;

    /// <summary>LiteLLM's 401 text when the request's key may not use <paramref name="model"/>; null when it may.</summary>
    public static string? ModelRefusal(this HttpContext context, string model) =>
        context.Features.Get<KeyCaller>() is { Key: { } key } && !key.Allows(model)
            ? $"Authentication error: the key '{key.Label}' is not allowed to use model '{model}'. It may use: {string.Join(", ", key.Models)}. Ask for the model to be added (POST /key/update)."
            : null;
}
