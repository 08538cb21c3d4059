namespace CopilotProxy.Tests.Harness;

/// <summary>Captured upstream wire transcripts, copied byte for byte next to the test assembly.</summary>
public static class Transcripts
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Transcripts");

    /// <summary>Path relative to Transcripts/, e.g. "llama-server/tool-stream.sse".</summary>
    public static string PathOf(string name) => Path.Combine(Directory, name.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The file's exact bytes.</summary>
    public static byte[] ReadBytes(string name) => File.ReadAllBytes(PathOf(name));

    /// <summary>The file decoded as UTF-8, with no newline conversion.</summary>
    public static string Read(string name) => System.Text.Encoding.UTF8.GetString(ReadBytes(name));
}
