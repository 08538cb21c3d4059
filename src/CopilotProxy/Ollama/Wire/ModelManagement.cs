namespace CopilotProxy.Ollama.Wire;

/// <summary><c>POST /api/pull</c>, <c>/api/push</c>, <c>/api/create</c> and <c>DELETE /api/delete</c>: the fields the proxy reads (<c>name</c> is the old spelling of <c>model</c>).</summary>
public sealed class ModelRequest
{
    public string? Model { get; set; }
    public string? Name { get; set; }
    public bool? Stream { get; set; }

    public string? ModelName => Model is { Length: > 0 } model ? model : Name is { Length: > 0 } name ? name : null;
}

/// <summary><c>POST /api/copy</c>.</summary>
public sealed class CopyRequest
{
    public string? Source { get; set; }
    public string? Destination { get; set; }
}

/// <summary>One progress line of pull/push/create.</summary>
public sealed record StatusResponse(string Status);
