using System.Text;
using CopilotProxy.ToolCalls;

namespace CopilotProxy.Ollama;

/// <summary>The translation's side of the tool-call repair: released text as content lines, repaired calls as whole Ollama calls.</summary>
public sealed partial class ChunkTranslator
{
    /// <summary>The content is complete (a no-op once decided): the text the repair still held goes out, and its calls join the upstream's.</summary>
    private void FinishRepair(bool truncated)
    {
        if (_repair is not { Active: true } repair)
        {
            return;
        }

        repair.Finish(truncated);
        EmitPlainText(repair.Released);
        foreach (var call in repair.Calls)
        {
            _toolCalls.AddWhole(call.Id, call.Name, call.Arguments);
        }

        RepairedToolCalls += repair.Calls.Count;
    }

    /// <summary>Gives up on the repair (real tool calls, an error): nothing it held is lost.</summary>
    private void StopRepair()
    {
        if (_repair is { Active: true } repair)
        {
            repair.Stop();
            EmitPlainText(repair.Released);
        }
    }

    /// <summary>Text the tool-call repair released (UTF-8), as one content line or into the aggregate.</summary>
    private void EmitPlainText(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return;
        }

        if (!_stream)
        {
            _content.Append(Encoding.UTF8.GetString(utf8));
            return;
        }

        var json = BeginTextLine();
        json.WriteString(TextName, utf8);
        EndTextLine(json);
    }
}
