namespace CopilotProxy.Configuration;

/// <summary>
/// The gateway configuration in force. Everything reads <see cref="Current"/> when it needs it instead of keeping its own
/// copy, so a reload only has to <see cref="Swap"/> it.
/// </summary>
public sealed class GatewayConfigHolder(GatewayConfig initial)
{
    private volatile GatewayConfig _current = initial ?? throw new ArgumentNullException(nameof(initial));

    public GatewayConfig Current => _current;

    /// <summary>Raised after <see cref="Current"/> changed, with the new configuration.</summary>
    public event Action<GatewayConfig>? Changed;

    public void Swap(GatewayConfig next)
    {
        ArgumentNullException.ThrowIfNull(next);
        _current = next;
        Changed?.Invoke(next);
    }
}
