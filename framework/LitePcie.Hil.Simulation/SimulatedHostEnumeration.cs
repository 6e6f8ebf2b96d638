using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation;

/// <summary>
/// What firmware and the OS do to a function before and while a driver binds: size and assign the BARs,
/// enable memory decode, and program MSI or MSI-X the way the driver's interrupt allocation would.
/// </summary>
public static class SimulatedHostEnumeration
{
    /// <summary>Assigns every BAR an address (largest first, naturally aligned) from <paramref name="window"/> and enables memory decode.</summary>
    public static void AssignBars(SimulatedBoard board, ulong window = 0xE000_0000)
    {
        ulong next = window;
        foreach (var bar in board.Profile.Bars.OrderByDescending(b => b.Size))
        {
            next = (next + bar.Size - 1) & ~(bar.Size - 1);
            board.WriteConfig(0x10 + bar.Index * 4, 4, (uint)next);
            if (bar.Kind == PciBarKind.Memory64)
            {
                board.WriteConfig(0x14 + bar.Index * 4, 4, (uint)(next >> 32));
            }

            next += bar.Size;
        }

        uint command = board.ReadConfig(0x04, 2);
        board.WriteConfig(0x04, 2, command | (uint)PciCommand.MemorySpace);
    }

    /// <summary>
    /// Programs and enables MSI-X (one unmasked table entry per vector) or MSI (all requested vectors) as the
    /// gateware's MSI flavour requires.
    /// </summary>
    public static void EnableInterrupts(SimulatedBoard board)
    {
        var cs = PciConfigSpace.Parse(board.ReadConfigSpace());
        if (board.Map.Layout.Msi.Flavour == MsiFlavour.MsiX && cs.Find<MsiXCapability>() is { } msix)
        {
            var csr = board.CsrBus;
            uint table = board.Map.Layout.Msi.TableBaseAddress!.Value;
            for (int i = 0; i < Math.Min(msix.TableSize, board.Map.Layout.Msi.Width); i++)
            {
                uint at = board.Map.ToBarOffset(table + (uint)i * 16);
                csr.WriteCsr(at, 0xFEE0_0000);
                csr.WriteCsr(at + 4, 0);
                csr.WriteCsr(at + 8, (uint)(0x40 + i));
                csr.WriteCsr(at + 12, 0);
            }

            board.WriteConfig(msix.Offset + 2, 2, 0x8000);
        }
        else if (cs.Find<MsiCapability>() is { } msi)
        {
            board.WriteConfig(msi.Offset + 4, 4, 0xFEE0_0000);
            board.WriteConfig(msi.Offset + (msi.Is64Bit ? 12 : 8), 2, 0x41);
            int mme = System.Numerics.BitOperations.Log2((uint)msi.RequestedVectors);
            board.WriteConfig(msi.Offset + 2, 2, (uint)(1 | (mme << 4)));
        }
    }

    /// <summary>
    /// What the OS saves before putting a function into D3hot (pci_save_state): command register, BARs, the
    /// PCIe device control register and the MSI/MSI-X control and message registers.
    /// </summary>
    public static ConfigSnapshot SaveState(SimulatedBoard board)
    {
        var cs = PciConfigSpace.Parse(board.ReadConfigSpace());
        var words = new List<(int Offset, int Size, uint Value)>();
        for (int bar = 0; bar < 6; bar++)
        {
            words.Add((0x10 + bar * 4, 4, board.ReadConfig(0x10 + bar * 4, 4)));
        }

        if (cs.Find<PciExpressCapability>() is { } pcie)
        {
            words.Add((pcie.Offset + 8, 2, board.ReadConfig(pcie.Offset + 8, 2)));
        }

        if (cs.Find<MsiCapability>() is { } msi)
        {
            int data = msi.Is64Bit ? 12 : 8;
            words.Add((msi.Offset + 4, 4, board.ReadConfig(msi.Offset + 4, 4)));
            if (msi.Is64Bit)
            {
                words.Add((msi.Offset + 8, 4, board.ReadConfig(msi.Offset + 8, 4)));
            }

            words.Add((msi.Offset + data, 2, board.ReadConfig(msi.Offset + data, 2)));
            words.Add((msi.Offset + 2, 2, board.ReadConfig(msi.Offset + 2, 2)));
        }

        if (cs.Find<MsiXCapability>() is { } msix)
        {
            words.Add((msix.Offset + 2, 2, board.ReadConfig(msix.Offset + 2, 2)));
        }

        words.Add((0x04, 2, board.ReadConfig(0x04, 2))); // command last: decode and mastering come back once everything is in place
        return new ConfigSnapshot(words);
    }

    /// <summary>A snapshot without the MSI and MSI-X capability registers (the <c>wake-msi-loss</c> fault).</summary>
    public static ConfigSnapshot WithoutInterruptCapabilities(SimulatedBoard board, ConfigSnapshot snapshot)
    {
        var cs = PciConfigSpace.Parse(board.ReadConfigSpace());
        var ranges = new List<(int From, int To)>();
        if (cs.Find<MsiCapability>() is { } msi)
        {
            ranges.Add((msi.Offset, msi.Offset + MsiCapability.BodyLength(msi.Is64Bit, msi.PerVectorMasking)));
        }

        if (cs.Find<MsiXCapability>() is { } msix)
        {
            ranges.Add((msix.Offset, msix.Offset + MsiXCapability.BodyLength));
        }

        return new ConfigSnapshot([.. snapshot.Words.Where(w => !ranges.Any(r => w.Offset >= r.From && w.Offset < r.To))]);
    }

    /// <summary>What the OS restores after D3hot→D0 (pci_restore_state), in the saved order.</summary>
    public static void RestoreState(SimulatedBoard board, ConfigSnapshot snapshot)
    {
        foreach (var (offset, size, value) in snapshot.Words)
        {
            board.WriteConfig(offset, size, value);
        }
    }
}

/// <summary>Configuration registers saved across a power transition.</summary>
public sealed record ConfigSnapshot(IReadOnlyList<(int Offset, int Size, uint Value)> Words);
