using LitePcie.Hil.Platform;

namespace LitePcie.Hil.MacOS.Platform;

/// <summary>Runs a command for a platform seam: what it is for, the command line, a bound, cancellation. Returns its output.</summary>
internal delegate Task<string> CommandRunner(string what, string command, TimeSpan timeout, CancellationToken cancellationToken);

/// <summary>The commands the macOS seams run, and the default runner.</summary>
internal static class MacOSCommands
{
    /// <summary><see cref="PlatformCommand.RunAsync"/> (<c>/bin/sh -c</c>, killed on timeout).</summary>
    public static CommandRunner Default { get; } = PlatformCommand.RunAsync;
}
