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

    /// <summary>
    /// Every captured SSE stream: the copies next to the test assembly, and the shared capture folder when this machine
    /// has it. The expected outputs are not upstream streams and are left out.
    /// </summary>
    public static TheoryData<string> SseFiles()
    {
        var data = new TheoryData<string>();
        foreach (var root in new[] { Directory, "/work/shared/transcripts" })
        {
            if (!System.IO.Directory.Exists(root))
            {
                continue;
            }

            foreach (var file in System.IO.Directory.GetFiles(root, "*.sse", SearchOption.AllDirectories).Where(f => !f.Contains("expected", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                data.Add(file);
            }
        }

        return data;
    }

    /// <summary>The <c>data:</c> payloads of an SSE file, in order.</summary>
    public static List<string> DataEvents(string file) =>
        File.ReadAllText(file).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Trim('\n'))
            .Where(e => e.StartsWith("data: ", StringComparison.Ordinal))
            .Select(e => e["data: ".Length..])
            .ToList();
}
