using System.Diagnostics;

namespace LitePcie.Hil.Tests.Support;

/// <summary>A bounded wait for a state another thread reaches (instead of a sleep that hopes it has).</summary>
internal static class Eventually
{
    /// <summary>Waits until <paramref name="condition"/> holds, failing with <paramref name="what"/> after <paramref name="bound"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? bound = null)
    {
        var limit = bound ?? TimeSpan.FromSeconds(10);
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"{what}: not reached within {limit.TotalSeconds:0.#} s");
            }

            await Task.Yield();
        }
    }
}
