using LitePcie.Hil.Reporting;

namespace LitePcie.Hil.Tests.Support;

/// <summary>Records steps as (name, error) when they finish; nested steps are recorded innermost first.</summary>
internal sealed class RecordingStepReporter : IStepReporter
{
    private readonly Stack<string> _open = new();

    public List<(string Name, Exception? Error)> Finished { get; } = [];

    public IEnumerable<string> Names => Finished.Select(f => f.Name);

    public void StepStarted(string name) => _open.Push(name);

    public void StepFinished(Exception? error) => Finished.Add((_open.Pop(), error));
}
