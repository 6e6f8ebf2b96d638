namespace LitePcie.Hil.Cli;

/// <summary>Process exit codes of <c>litepcie-hil</c>, distinct per failure class so scripts can branch.</summary>
public static class ExitCodes
{
    /// <summary>Everything worked and every check passed.</summary>
    public const int Success = 0;

    /// <summary>The command ran but a check failed (data mismatch, threshold missed, leak found).</summary>
    public const int TestFailed = 1;

    /// <summary>Bad arguments or unusable input files (board profile, csr.json, fault string).</summary>
    public const int UsageError = 2;

    /// <summary>The device or transport failed (gone, busy, timeout, driver refused).</summary>
    public const int DeviceError = 3;
}
