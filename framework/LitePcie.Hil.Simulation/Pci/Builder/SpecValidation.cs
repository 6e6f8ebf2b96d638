namespace LitePcie.Hil.Simulation.Pci;

/// <summary>Argument errors of <see cref="PciConfigSpaceBuilder"/>: the parameter name is the offending spec field.</summary>
internal static class SpecValidation
{
    public static ArgumentException Invalid(string field, string problem) => new(problem, field);

    public static void Require(bool condition, string field, string problem)
    {
        if (!condition)
        {
            throw Invalid(field, problem);
        }
    }

    public static bool IsPowerOfTwo(ulong value) => value != 0 && (value & (value - 1)) == 0;

    /// <summary>log2(bytes / 128) for a payload / read-request size field, or -1 when not 128..4096 and a power of two.</summary>
    public static int PayloadField(int bytes)
    {
        for (var field = 0; field <= 5; field++)
        {
            if (bytes == 128 << field)
            {
                return field;
            }
        }

        return -1;
    }
}
