using System.Reflection;
using System.Text;
using LitePcie.Hil.Backends;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Options;
using LitePcie.Hil.Simulation.Gateware;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.FaultMatrix;

/// <summary>How one suite test ended when run in-process.</summary>
public enum InProcessStatus
{
    Passed,
    Failed,
    Broken,
    Skipped,
}

/// <summary>One test's outcome in an in-process suite run.</summary>
public sealed record InProcessOutcome(string Test, InProcessStatus Status, string Message, TimeSpan At, string Log);

/// <summary>
/// Runs a device suite's own test methods in this process against a fresh simulated board with a given fault
/// string: each test gets a fresh session (the previous test's faults cannot leak into it), a time bound,
/// and its outcome classified as NUnit would (assertion → failed, device error → broken, ignore → skipped).
/// </summary>
public static class InProcessSuiteRunner
{
    /// <summary>
    /// Runs <paramref name="suiteType"/> on a fresh simulated <paramref name="board"/> until its tests are done (every case of a
    /// parameterised test), the budget is spent, or <paramref name="stop"/> says so; <paramref name="only"/> runs one test.
    /// </summary>
    public static async Task<IReadOnlyList<InProcessOutcome>> RunAsync(Type suiteType, string board, string faults, HilOptions options,
        TimeSpan budget, TimeSpan perTest, Func<InProcessOutcome, bool>? stop = null, string? only = null)
    {
        var outcomes = new List<InProcessOutcome>();
        var time = TimeProvider.System; // the fault matrix budgets its run on the wall clock: a budget, not a synchronisation
        long start = time.GetTimestamp();
        var profile = BoardCatalog.Load(board);
        // The run's simulator settings, one board, this fault string; faults are injected into our model, unpaced.
        var request = BackendFactory.Request(options) with { Backend = SimBackendProvider.Name, Boards = [board], Device = "", Faults = faults, Paced = false, Engine = SimEngine.Model };
        await using var backend = BackendRegistry.For(request).Create(request);
        var platform = BackendRegistry.Platform(request, backend);
        foreach (var (name, invoke) in Tests(suiteType).Where(t => only is null || t.Name == only))
        {
            if (time.GetElapsedTime(start) > budget)
            {
                break;
            }

            var log = new StringBuilder();
            InProcessOutcome outcome;
            IDeviceSession? session = null;
            SuiteContext? context = null;
            try
            {
                var found = await backend.EnumerateAsync();
                var device = found.Count > 0 ? found[0] : throw new DeviceGoneException(PciAddress.OfSimulatedSlot(0).ToString(), "the simulated board is no longer enumerated");
                session = await backend.OpenAsync(device);
                var target = new BoardTarget(BackendKind.Sim, device.Address, profile.Name);
                using var cts = new CancellationTokenSource(perTest);
                // A private open pipeline: this board's failures must not trip the breaker of the run's own board at the same address.
                var pipeline = HilResilience.OpenPipeline(options, new TextReporter(l => log.AppendLine(l)));
                context = new SuiteContext(session, options, profile, target, new TextReporter(l => log.AppendLine(l)), backend, platform,
                    _ => pipeline.ExecuteAsync(async ct =>
                    {
                        var d = (await backend.EnumerateAsync(ct)).FirstOrDefault(x => x.Address == target.Address)
                            ?? throw new DeviceGoneException(target.Address, "not enumerated by the simulated bus");
                        return await backend.OpenAsync(d, ct);
                    }).AsTask()) { Cancellation = cts.Token };
                var suite = (DeviceSuite)Activator.CreateInstance(suiteType, target)!;
                suite.UseContext(context);
                if (invoke(suite) is Task task)
                {
                    await task.WaitAsync(perTest);
                }

                outcome = new InProcessOutcome(name, InProcessStatus.Passed, "", time.GetElapsedTime(start), log.ToString());
            }
            catch (Exception raw)
            {
                var e = raw is TargetInvocationException { InnerException: { } inner } ? inner : raw;
                var status = e switch
                {
                    IgnoreException or InconclusiveException => InProcessStatus.Skipped,
                    AssertionException or TimeoutException or OperationCanceledException => InProcessStatus.Failed,
                    _ => InProcessStatus.Broken,
                };
                string message = e is TimeoutException or OperationCanceledException ? $"timed out after {perTest.TotalSeconds:0} s: {e.Message}" : e.Message;
                outcome = new InProcessOutcome(name, status, message, time.GetElapsedTime(start), log.ToString());
            }
            finally
            {
                // The suite may have replaced the session (the cycling suites take the board over and reopen it).
                var current = context is null ? session : context.CurrentSession;
                if (current is not null)
                {
                    await current.DisposeAsync(); // closing the client stops whatever the test left running
                }
            }

            outcomes.Add(outcome);
            if (stop?.Invoke(outcome) == true)
            {
                break;
            }
        }

        return outcomes;
    }

    /// <summary>The suite's tests: [Test] methods, and every case of each [TestCaseSource].</summary>
    private static IEnumerable<(string Name, Func<DeviceSuite, object?> Invoke)> Tests(Type suiteType)
    {
        foreach (var m in suiteType.GetMethods(BindingFlags.Public | BindingFlags.Instance).OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            if (m.GetCustomAttribute<TestAttribute>() is not null)
            {
                yield return (m.Name, s => m.Invoke(s, null));
            }
            else if (m.GetCustomAttribute<TestCaseSourceAttribute>() is { SourceName: { } source })
            {
                var cases = (IEnumerable<TestCaseData>)suiteType.GetMethod(source, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null)!;
                foreach (var c in cases)
                {
                    var args = c.Arguments;
                    yield return ($"{m.Name}({string.Join(",", args)})", s => m.Invoke(s, args));
                }
            }
        }
    }
}
