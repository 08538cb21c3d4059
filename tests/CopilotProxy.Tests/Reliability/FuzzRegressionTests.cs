using CopilotProxy.Fuzz;

namespace CopilotProxy.Tests.Reliability;

/// <summary>Every input that ever crashed a fuzz target (Reliability/FuzzCrashes) runs through the same targets without an exception.</summary>
public sealed class FuzzRegressionTests
{
    public static TheoryData<string> Crashes()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Reliability", "FuzzCrashes"), "*.bin").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Crashes))]
    public void SavedCrash_NoLongerThrows(string file)
    {
        var input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Reliability", "FuzzCrashes", file));
        FuzzTargets.Run(input);
    }

    /// <summary>
    /// The tool-call format family targets (first byte 12 to 15) hold every format transcript, cut into deltas of every size
    /// up to 16 bytes, to their checks: content without a call comes out byte for byte, every call's arguments are one object.
    /// </summary>
    [Fact]
    public void FormatFamilyTargets_HoldEveryTranscript()
    {
        var answers = ToolCalls.ToolCallFormatTests.Transcripts.Select(r => (string)((ITheoryDataRow)r).GetData()[1]!)
            .Concat(ToolCalls.ToolCallFormatTests.LookAlikes.Select(r => (string)((ITheoryDataRow)r).GetData()[0]!));
        foreach (var answer in answers)
        {
            var content = System.Text.Encoding.UTF8.GetBytes(answer);
            for (byte family = 12; family <= 15; family++)
            {
                for (var size = 2; size <= 33; size++)
                {
                    FuzzTargets.Run([family, (byte)size, .. content]);
                }
            }
        }
    }
}
