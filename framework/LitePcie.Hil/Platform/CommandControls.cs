using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LitePcie.Hil.Platform;

/// <summary>Why a platform command failed: which command, how, and what it printed.</summary>
public sealed class PlatformCommandException(string message) : Exception(message);

/// <summary>
/// Runs a configured shell command (a lab switch, a relay, <c>rtcwake</c>) with placeholders and a timeout; a
/// command that overruns is killed with its process tree. Output is kept for the error message.
/// </summary>
public static class PlatformCommand
{
    /// <summary>Replaces <c>{name}</c> placeholders; an unknown placeholder is an error naming it.</summary>
    public static string Expand(string template, IReadOnlyDictionary<string, string> values)
    {
        var sb = new StringBuilder();
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf('{', i);
            if (open < 0)
            {
                sb.Append(template, i, template.Length - i);
                break;
            }

            int close = template.IndexOf('}', open);
            if (close < 0)
            {
                throw new FormatException($"'{template}': '{{' at {open} is never closed");
            }

            string name = template[(open + 1)..close];
            if (!values.TryGetValue(name, out var value))
            {
                throw new FormatException($"'{template}': unknown placeholder {{{name}}} (known: {string.Join(", ", values.Keys.Select(k => "{" + k + "}"))})");
            }

            sb.Append(template, i, open - i).Append(value);
            i = close + 1;
        }

        return sb.ToString();
    }

    /// <summary>Runs <paramref name="command"/> with <c>/bin/sh -c</c>; throws <see cref="PlatformCommandException"/> on a non-zero exit or timeout.</summary>
    public static async Task<string> RunAsync(string what, string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var process = Process.Start(psi) ?? throw new PlatformCommandException($"{what}: could not start /bin/sh for '{command}'");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new PlatformCommandException(string.Create(CultureInfo.InvariantCulture,
                $"{what}: '{command}' did not finish within {timeout.TotalSeconds:0.#} s and was killed"));
        }

        string output = (await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false)).Trim();
        if (process.ExitCode != 0)
        {
            throw new PlatformCommandException($"{what}: '{command}' exited with {process.ExitCode}{(output.Length > 0 ? ": " + output : "")}");
        }

        return output;
    }
}

/// <summary>
/// Attach/detach through lab commands (a programmable Thunderbolt/PCIe switch, a power relay, a labgrid
/// place): <c>{device}</c> is replaced by the device address.
/// </summary>
public sealed class CommandAttachControl(string detachCommand, string attachCommand, TimeSpan timeout) : IAttachControl
{
    /// <inheritdoc />
    public string Description => $"lab commands (detach: '{detachCommand}', attach: '{attachCommand}', timeout {timeout.TotalSeconds:0.#} s)";

    /// <inheritdoc />
    public Task DetachAsync(string device, CancellationToken cancellationToken) =>
        PlatformCommand.RunAsync($"detach {device}", PlatformCommand.Expand(detachCommand, Values(device)), timeout, cancellationToken);

    /// <inheritdoc />
    public Task AttachAsync(string device, CancellationToken cancellationToken) =>
        PlatformCommand.RunAsync($"attach {device}", PlatformCommand.Expand(attachCommand, Values(device)), timeout, cancellationToken);

    private static Dictionary<string, string> Values(string device) => new(StringComparer.Ordinal) { ["device"] = device };
}

/// <summary>
/// Sleep/wake through a command that returns once the machine is awake again (e.g. <c>rtcwake -m mem -s {seconds}</c>);
/// <c>{seconds}</c> is replaced by the whole sleep duration in seconds.
/// </summary>
public sealed class CommandPowerControl(string sleepCommand, TimeSpan extraTimeout, TimeProvider? time = null) : IPowerControl
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <inheritdoc />
    public string Description => $"command '{sleepCommand}'";

    /// <inheritdoc />
    public async Task SleepAsync(TimeSpan duration, Action<PowerEvent> onTransition, CancellationToken cancellationToken)
    {
        long start = _time.GetTimestamp();
        int seconds = Math.Max(1, (int)Math.Ceiling(duration.TotalSeconds));
        string command = PlatformCommand.Expand(sleepCommand, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["seconds"] = seconds.ToString(CultureInfo.InvariantCulture),
        });
        onTransition(new PowerEvent(PowerTransition.WillSleep, TimeSpan.Zero, command));
        string output = await PlatformCommand.RunAsync("sleep/wake", command, TimeSpan.FromSeconds(seconds) + extraTimeout, cancellationToken).ConfigureAwait(false);
        onTransition(new PowerEvent(PowerTransition.Awake, _time.GetElapsedTime(start), output));
    }
}
