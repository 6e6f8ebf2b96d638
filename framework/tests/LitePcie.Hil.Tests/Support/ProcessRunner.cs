using System.Diagnostics;

namespace LitePcie.Hil.Tests.Support;

/// <summary>What a child process did.</summary>
internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
}

/// <summary>Runs tools the tests drive (compilers, probes, the Allure CLI, a child test run) with a bound on time.</summary>
internal static class ProcessRunner
{
    /// <summary>Runs <paramref name="file"/> and waits; a process still running at <paramref name="timeout"/> is killed with its tree.</summary>
    public static ProcessResult Run(string file, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null) =>
        Run(new ProcessStartInfo(file, arguments), timeout, workingDirectory, environment);

    /// <summary>Runs <paramref name="file"/> with a command line (quotes as the shell would write them).</summary>
    public static ProcessResult Run(string file, string commandLine, TimeSpan timeout) =>
        Run(new ProcessStartInfo(file, commandLine), timeout, null, null);

    private static ProcessResult Run(ProcessStartInfo psi, TimeSpan timeout, string? workingDirectory, IReadOnlyDictionary<string, string?>? environment)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory;
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                psi.Environment.Remove(name);
            }
            else
            {
                psi.Environment[name] = value;
            }
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(psi.FileName)} {psi.Arguments}{string.Join(' ', psi.ArgumentList)} did not finish within {timeout.TotalSeconds:0} s");
        }

        process.WaitForExit();
        return new ProcessResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
