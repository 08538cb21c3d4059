namespace CopilotProxy.Queueing;

/// <summary>
/// Whose turn a request takes in a capped deployment's fair queue: <paramref name="Key"/> is what the queue keeps apart
/// (a virtual key's hash), <paramref name="Label"/> what a span and the inspector may show (its alias or <c>sk-...abcd</c>
/// name; never the hash, which identifies the key).
/// </summary>
public readonly record struct QueueTurn(string Key, string Label)
{
    /// <summary>The one turn that requests without a virtual key (master key, open front door) share.</summary>
    public static QueueTurn Shared { get; } = new(string.Empty, "shared");
}
