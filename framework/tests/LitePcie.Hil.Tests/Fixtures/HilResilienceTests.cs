using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Options;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;
using Polly.CircuitBreaker;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>Retries only transient device conditions, reports each retry, and stops hammering a vanished device.</summary>
[TestFixture]
public sealed class HilResilienceTests
{
    private static readonly HilOptions Fast = new() { Open = new() { OpenRetries = 3, OpenRetryDelayMs = 1 } };

    [Test]
    public async Task A_busy_device_is_retried_and_every_retry_is_reported()
    {
        var steps = new RecordingStepReporter();
        var pipeline = HilResilience.OpenPipeline(Fast, steps);
        int attempts = 0;
        int result = await pipeline.ExecuteAsync(_ =>
        {
            attempts++;
            return attempts < 3
                ? throw new DeviceBusyException("0000:01:00.0", "another client holds the device")
                : ValueTask.FromResult(attempts);
        });

        result.Should().Be(3, "the third open succeeds once the other client let go");
        steps.Finished.Should().HaveCount(2, "two retries, each reported as a step").And.SatisfyRespectively(
            s =>
            {
                s.Name.Should().StartWith("retry 1/3 in 1 ms: 0000:01:00.0: another client holds the device");
                s.Error.Should().BeOfType<DeviceBusyException>("the step carries the failed attempt, so it shows as broken");
            },
            s => s.Name.Should().StartWith("retry 2/3 in 2 ms: "));
    }

    [Test]
    public async Task A_bad_argument_is_never_retried()
    {
        var steps = new RecordingStepReporter();
        var pipeline = HilResilience.OpenPipeline(Fast, steps);
        int attempts = 0;
        var act = async () => await pipeline.ExecuteAsync<int>(_ =>
        {
            attempts++;
            throw new DeviceArgumentException("0000:01:00.0", "channel", "9", "0..1");
        });

        await act.Should().ThrowAsync<DeviceArgumentException>();
        attempts.Should().Be(1, "a refused argument is a defect, not a transient condition");
        steps.Finished.Should().BeEmpty();
    }

    [Test]
    public async Task The_breaker_opens_after_repeated_removal_and_fails_fast()
    {
        var steps = new RecordingStepReporter();
        var pipeline = HilResilience.OpenPipeline(Fast, steps);
        int attempts = 0;
        ValueTask<int> Gone(CancellationToken _)
        {
            attempts++;
            throw new DeviceGoneException("0000:01:00.0", "reads return 0xFFFFFFFF");
        }

        for (int open = 0; open < HilResilience.BreakAfterOpens; open++)
        {
            var fail = async () => await pipeline.ExecuteAsync(Gone);
            await fail.Should().ThrowAsync<DeviceGoneException>();
        }

        attempts.Should().Be(HilResilience.BreakAfterOpens * (Fast.Open.OpenRetries + 1), "each open tries once and retries three times");
        steps.Names.Should().Contain(l => l.StartsWith("circuit open: the device was gone on 3 consecutive opens", StringComparison.Ordinal));

        var rejected = async () => await pipeline.ExecuteAsync(Gone);
        var e = await rejected.Should().ThrowAsync<BrokenCircuitException>();
        attempts.Should().Be(HilResilience.BreakAfterOpens * (Fast.Open.OpenRetries + 1), "an open circuit does not touch the device");
        HilResilience.Explain(e.Which, "0000:01:00.0").Should().BeOfType<DeviceGoneException>()
            .Which.Message.Should().Contain("circuit breaker is open because the device kept vanishing");
    }

    [Test]
    public void Transient_means_busy_not_ready_or_gone()
    {
        var transient = Enum.GetValues<DeviceErrorCode>().Where(c => HilResilience.IsTransient(new DeviceException(c, "d", "m")));
        transient.Should().BeEquivalentTo([DeviceErrorCode.Busy, DeviceErrorCode.ExclusiveAccess, DeviceErrorCode.NotReady, DeviceErrorCode.DeviceGone]);
    }
}
