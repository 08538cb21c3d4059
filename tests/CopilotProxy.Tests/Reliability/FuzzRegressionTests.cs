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
}
