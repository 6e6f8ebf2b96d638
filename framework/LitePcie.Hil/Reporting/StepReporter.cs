namespace LitePcie.Hil.Reporting;

/// <summary>
/// Receives the stages of a test as nested steps (open session, program descriptors, stream, verify…); the
/// fixtures forward them to the test output and the Allure results.
/// </summary>
public interface IStepReporter
{
    /// <summary>A step begins (steps nest).</summary>
    void StepStarted(string name);

    /// <summary>The innermost step ended; <paramref name="error"/> is null when it passed.</summary>
    void StepFinished(Exception? error);
}

/// <summary>Runs code as a named step of an <see cref="IStepReporter"/> (a null reporter just runs it).</summary>
public static class StepReporterExtensions
{
    /// <summary>Runs <paramref name="action"/> as a step.</summary>
    public static void Step(this IStepReporter? reporter, string name, Action action)
    {
        reporter?.StepStarted(name);
        try
        {
            action();
        }
        catch (Exception e)
        {
            reporter?.StepFinished(e);
            throw;
        }

        reporter?.StepFinished(null);
    }

    /// <summary>Runs <paramref name="action"/> as a step and returns its result.</summary>
    public static T Step<T>(this IStepReporter? reporter, string name, Func<T> action)
    {
        T result = default!;
        reporter.Step(name, () => { result = action(); });
        return result;
    }

    /// <summary>Runs <paramref name="action"/> as a step.</summary>
    public static async Task StepAsync(this IStepReporter? reporter, string name, Func<Task> action)
    {
        reporter?.StepStarted(name);
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            reporter?.StepFinished(e);
            throw;
        }

        reporter?.StepFinished(null);
    }

    /// <summary>Runs <paramref name="action"/> as a step and returns its result.</summary>
    public static async Task<T> StepAsync<T>(this IStepReporter? reporter, string name, Func<Task<T>> action)
    {
        T result = default!;
        await reporter.StepAsync(name, async () => { result = await action().ConfigureAwait(false); }).ConfigureAwait(false);
        return result;
    }

    /// <summary>A zero-length step that records an event (a retry, a transition) with its outcome.</summary>
    public static void Event(this IStepReporter? reporter, string name, Exception? error = null)
    {
        reporter?.StepStarted(name);
        reporter?.StepFinished(error);
    }
}

/// <summary>
/// A check on the device did not hold (a verdict, reported as <c>failed</c>), as opposed to an error of the
/// device or the transport (<c>broken</c>). Used for step outcomes raised outside a test framework.
/// </summary>
public sealed class VerdictException(string message) : Exception(message);
