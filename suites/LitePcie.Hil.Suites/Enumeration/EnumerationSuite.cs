using FluentAssertions;
using FluentAssertions.Execution;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.Enumeration;

/// <summary>
/// HIL-01, HIL-02 and HIL-04 (docs/checklist.md): the function is what the board profile and the loaded CSR map say — identity, BARs,
/// capabilities, negotiated link (in config space and in the PHY's own status CSR), bus mastering,
/// identifier ROM, layout guard.
/// </summary>
[TestFixtureSource(typeof(BoardSource), nameof(BoardSource.Targets))]
[Category("Enumeration")]
[Feature("PCIe enumeration")]
[Severity(AllureSeverity.Blocker)]
public sealed class EnumerationSuite(BoardTarget target) : DeviceSuite(target)
{
    private PciConfigSpace Config => Context.Step("read configuration space", () => Context.Session.ReadConfigSpace());

    [Test]
    public void Ids_are_in_the_litepcie_driver_table_and_match_the_profile()
    {
        var cs = Config;
        LitePcieDeviceIds.IsSupported(cs.VendorId, cs.DeviceId).Should().BeTrue(
            $"{cs.VendorId:x4}:{cs.DeviceId:x4} must be matched by litepcie.ko's PCI ID table (docs/linux-driver.md#matching-and-probe)");
        (cs.VendorId, cs.DeviceId).Should().Be((Context.Profile.VendorId, Context.Profile.DeviceId), "vendor:device of board profile " + Context.Profile.Name);
        if (cs.SubsystemVendorId is { } svid)
        {
            (svid, cs.SubsystemId!.Value).Should().Be((Context.Profile.SubsystemVendorId, Context.Profile.SubsystemId), "subsystem vendor:device of the profile");
        }
    }

    [Test]
    public void Revision_and_class_match_the_profile()
    {
        var cs = Config;
        cs.Revision.Should().Be(0, "litepcie.ko probes only revision 0");
        cs.Revision.Should().Be(Context.Profile.Revision, "revision of the profile");
        cs.ClassCode.Should().Be(Context.Profile.ClassCode, $"class code 0x{Context.Profile.ClassCode:X6} of the profile ({PciConfigSpace.ClassName(Context.Profile.ClassCode)})");
    }

    [Test]
    public void Bar0_is_a_memory_bar_large_enough_for_the_csr_region()
    {
        var info = Context.Session.Info;
        var csrBar = Context.Profile.CsrBar;
        var bar = info.Bars.FirstOrDefault(b => b.Index == csrBar.Index);
        bar.Should().NotBeNull($"BAR{csrBar.Index} (the CSR BAR) is implemented");
        bar!.Kind.Should().NotBe(PciBarKind.Io, "litepcie.ko requires BAR0 to be a memory BAR");
        bar.Size.Should().Be(csrBar.Size, $"BAR{bar.Index} size of the profile");
        if (Context.Map.CsrRegionSize is { } region)
        {
            bar.Size.Should().BeGreaterThanOrEqualTo(region, "BAR0 must cover the whole CSR region of the map");
        }
    }

    [Test]
    public void Every_bar_of_the_profile_is_present_with_its_type_and_size()
    {
        var info = Context.Session.Info;
        using var scope = new AssertionScope();
        foreach (var expected in Context.Profile.Bars)
        {
            var bar = info.Bars.FirstOrDefault(b => b.Index == expected.Index);
            bar.Should().NotBeNull($"BAR{expected.Index} ({expected.Kind}, {expected.Size} bytes) of the profile");
            if (bar is null)
            {
                continue;
            }

            bar.Kind.Should().Be(expected.Kind, $"BAR{expected.Index} type");
            bar.Prefetchable.Should().Be(expected.Prefetchable, $"BAR{expected.Index} prefetchable bit");
            bar.Size.Should().Be(expected.Size, $"BAR{expected.Index} size");
        }

        info.Bars.Select(b => b.Index).Should().BeSubsetOf(Context.Profile.Bars.Select(b => b.Index), "no BAR beyond those of the profile");
    }

    [Test]
    public void Capabilities_match_the_csr_maps_msi_flavour()
    {
        var cs = Config;
        using var scope = new AssertionScope();
        cs.Find<PowerManagementCapability>().Should().NotBeNull("a PCI Express function has the Power Management capability");
        cs.Find<PciExpressCapability>().Should().NotBeNull("the PCI Express capability");
        var flavour = Context.Map.Layout.Msi.Flavour;
        if (flavour == MsiFlavour.MsiX)
        {
            var msix = cs.Find<MsiXCapability>();
            msix.Should().NotBeNull($"cores.pcie_msi = LitePCIeMSIX needs the MSI-X capability");
            if (msix is not null)
            {
                uint table = Context.Map.ToBarOffset(Context.Map.Layout.Msi.TableBaseAddress!.Value);
                (msix.TableBir, msix.TableOffset).Should().Be((0, table), "the MSI-X table must be where the gateware decodes it (pcie_msi_table)");
                uint pba = Context.Map.ToBarOffset(Context.Map.Layout.Msi.Pba!.Address);
                (msix.PbaBir, msix.PbaOffset).Should().Be((0, pba), "the PBA must be pcie_msi_pba");
                msix.TableSize.Should().BeGreaterThanOrEqualTo(Context.Map.Layout.DmaChannels.Max(c => Math.Max(c.ReaderInterrupt, c.WriterInterrupt)) + 1,
                    "every DMA interrupt bit needs a table entry (P21)");
            }
        }
        else
        {
            var msi = cs.Find<MsiCapability>();
            msi.Should().NotBeNull($"cores.pcie_msi = {MsiBlock.CoreClassOf(flavour)} needs the MSI capability");
            if (msi is not null && flavour == MsiFlavour.MultiVector)
            {
                msi.RequestedVectors.Should().BeGreaterThan(Context.Map.Layout.DmaChannels.Max(c => Math.Max(c.ReaderInterrupt, c.WriterInterrupt)),
                    "multi-vector MSI needs a vector per DMA interrupt bit (P21)");
            }
        }
    }

    [Test]
    public void Negotiated_link_matches_the_profile_and_the_phy_status_csr()
    {
        var pcie = Config.Find<PciExpressCapability>();
        pcie.Should().NotBeNull("the PCI Express capability reports the link");
        var p = Context.Profile;
        using (new AssertionScope())
        {
            pcie!.LinkSpeed.Should().Be(p.LinkSpeed, $"link speed: config space Link Status reports {pcie.LinkSpeed.Describe()}, profile {p.Name} expects {p.LinkSpeed.Describe()}");
            pcie.LinkWidth.Should().Be(p.LinkWidth, $"link width: config space Link Status reports x{pcie.LinkWidth}, profile expects x{p.LinkWidth} (a narrower link means a degraded link)");
        }

        if (Context.Map.Layout.Phy?.LinkStatus is null)
        {
            Context.Log("the design exports no PHY link-status CSR: config space checked only");
            return;
        }

        var phy = Context.Step("read pcie_phy_phy_link_status", () => Context.Session.ReadLinkStatus());
        if (phy is not { IsDecoded: true } status)
        {
            // A status the design exports must be read: an unknown family is a profile to complete, not a pass.
            throw new AssertionException($"pcie_phy_phy_link_status {phy?.ToString() ?? "(no value)"} cannot be decoded: the PHY family is unknown " +
                $"(csr.json has no cores.pcie_phy, e.g. a csr.csv map): set \"phy\" (S7PCIEPHY, USPCIEPHY or USPPCIEPHY) in profile {Context.Profile.Name}");
        }

        if (status.Width == 0 || status.Speed == PciLinkSpeed.Unknown)
        {
            throw new AssertionException($"pcie_phy_phy_link_status {status}: the {status.Family} encoding gives no valid speed/width (raw 0x{status.Raw:X8})");
        }

        Context.Log($"pcie_phy_phy_link_status: {status}");
        using (new AssertionScope())
        {
            status.LinkUp.Should().BeTrue("pcie_phy_phy_link_status bit 0 (link up)");
            status.Speed.Should().Be(pcie.LinkSpeed, "the PHY CSR's link speed agrees with config space");
            status.Width.Should().Be(pcie.LinkWidth, $"link width: the PHY CSR reports x{status.Width}, config space x{pcie.LinkWidth}");
        }
    }

    [Test]
    public void Bus_mastering_is_on_once_the_driver_holds_the_device()
    {
        var cs = Config;
        (cs.Command & PciCommand.BusMaster).Should().Be(PciCommand.BusMaster, "command register bit 2 (bus master) with the driver bound");
        (cs.Command & PciCommand.MemorySpace).Should().Be(PciCommand.MemorySpace, "command register bit 1 (memory space)");
        if (Context.Map.Layout.Phy?.BusMasterEnable is { } bme)
        {
            Context.Session.Read32(bme).Should().Be(1u, $"{bme.Name}: the PHY sees bus mastering enabled");
        }
    }

    [Test]
    public void Msi_enable_state_agrees_between_config_space_and_the_phy()
    {
        var cs = Config;
        var phy = Context.Map.Layout.Phy;
        if (phy?.MsiEnable is { } msiEnable)
        {
            bool configMsi = cs.Find<MsiCapability>()?.Enabled ?? false;
            Context.Session.Read32(msiEnable).Should().Be(configMsi ? 1u : 0u, $"{msiEnable.Name} follows the MSI Enable bit of config space");
        }

        if (phy?.MsixEnable is { } msixEnable)
        {
            bool configMsix = cs.Find<MsiXCapability>()?.Enabled ?? false;
            Context.Session.Read32(msixEnable).Should().Be(configMsix ? 1u : 0u, $"{msixEnable.Name} follows the MSI-X Enable bit of config space");
        }

        bool anyEnabled = (cs.Find<MsiCapability>()?.Enabled ?? false) || (cs.Find<MsiXCapability>()?.Enabled ?? false);
        anyEnabled.Should().BeTrue("the driver enabled MSI or MSI-X");
    }

    [Test]
    public void Identifier_rom_matches_the_loaded_csr_maps_config_identifier()
    {
        string rom = Context.Step("read identifier_mem", () => Context.Session.ReadIdentifier());
        Context.Log($"identifier ROM: \"{rom}\"");
        rom.Should().Be(Context.Map.Identifier,
            $"HIL-02: the identifier ROM must equal config_identifier of {Path.GetFileName(Context.Map.Source)}; a difference means a stale csr.json or another bitstream");
    }

    [Test]
    public void Dma_channel_count_matches_the_map()
    {
        Context.Session.Info.ChannelCount.Should().Be(Context.Map.Layout.DmaChannels.Count, "the driver drives dma_channels channels");
        Context.Session.Channels.Should().HaveCount(Context.Map.Layout.DmaChannels.Count);
    }

    [Test]
    [Spec("P14")]
    public void Layout_guard_holds_for_every_dma_channel()
    {
        var guard = Context.Map.Layout.Guard;
        Context.AttachText("layout guard", guard.Describe());
        using var scope = new AssertionScope();
        foreach (var c in guard.Channels)
        {
            c.DriverOffsetsHold.Should().BeTrue($"HIL-04: pcie_dma{c.Channel}'s writer/reader registers must sit at the offsets litepcie.ko hard-codes ({string.Join("; ", c.Findings)})");
            if (!c.HasLoopback)
            {
                Context.Log($"pcie_dma{c.Channel} has no loopback: the loopback ioctl must never be sent (+0x40 is {c.RegisterAtLoopbackOffset ?? "unmapped"}, P14)");
            }
        }
    }
}
