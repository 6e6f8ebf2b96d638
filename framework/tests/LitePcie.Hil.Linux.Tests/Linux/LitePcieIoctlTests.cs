using System.Runtime.InteropServices;
using System.Text.Json;
using FluentAssertions;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>The ioctl numbers and struct layouts of litepcie.ko, pinned to docs/linux-driver.md#ioctls and to a C compiler.</summary>
[TestFixture]
public sealed class LitePcieIoctlTests
{
    [Test]
    public void Numbers_are_the_ones_the_driver_decodes()
    {
        LitePcieIoctl.Reg.Should().Be(0xC00C5300u);
        LitePcieIoctl.Flash.Should().Be(0xC0185301u);
        LitePcieIoctl.Icap.Should().Be(0xC0085302u);
        LitePcieIoctl.Dma.Should().Be(0x40015314u);
        LitePcieIoctl.DmaWriter.Should().Be(0xC0185315u);
        LitePcieIoctl.DmaReader.Should().Be(0xC0185316u);
        LitePcieIoctl.MmapDmaInfo.Should().Be(0x80305318u);
        LitePcieIoctl.Lock.Should().Be(0xC0065319u);
        LitePcieIoctl.MmapDmaWriterUpdate.Should().Be(0x4008531Au);
        LitePcieIoctl.MmapDmaReaderUpdate.Should().Be(0x4008531Bu);
    }

    [Test]
    public void Struct_sizes_and_offsets_are_the_lp64_layouts()
    {
        Marshal.SizeOf<LitePcieReg>().Should().Be(12);
        Marshal.OffsetOf<LitePcieReg>(nameof(LitePcieReg.IsWrite)).Should().Be(8);
        Marshal.SizeOf<LitePcieFlash>().Should().Be(24);
        Marshal.SizeOf<LitePcieIcap>().Should().Be(8);
        Marshal.OffsetOf<LitePcieIcap>(nameof(LitePcieIcap.Data)).Should().Be(4);
        Marshal.SizeOf<LitePcieDma>().Should().Be(1);
        Marshal.SizeOf<LitePcieDmaControl>().Should().Be(24);
        Marshal.OffsetOf<LitePcieDmaControl>(nameof(LitePcieDmaControl.HwCount)).Should().Be(8);
        Marshal.SizeOf<LitePcieMmapDmaInfo>().Should().Be(48);
        Marshal.SizeOf<LitePcieLock>().Should().Be(6);
        Marshal.OffsetOf<LitePcieLock>(nameof(LitePcieLock.WriterStatus)).Should().Be(5);
        Marshal.SizeOf<LitePcieMmapDmaUpdate>().Should().Be(8);
    }

    /// <summary>
    /// A C translation unit with the structs and _IOR/_IOW/_IOWR of litepcie.h, compiled with this machine's C compiler
    /// and the kernel's own ioctl macros: its sizes, offsets and numbers must equal the C# ones.
    /// </summary>
    [Test]
    public void A_c_compiler_agrees_with_every_number_size_and_offset()
    {
        string? cc = new[] { "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang" }.FirstOrDefault(File.Exists);
        if (cc is null || !File.Exists("/usr/include/linux/ioctl.h"))
        {
            Assert.Ignore("no C compiler or no Linux UAPI headers (linux-libc-dev) here");
        }

        string dir = Directory.CreateTempSubdirectory("ioctl-").FullName;
        try
        {
            string src = Path.Combine(dir, "probe.c");
            File.WriteAllText(src, """
                #include <stdio.h>
                #include <stddef.h>
                #include <stdint.h>
                #include <linux/ioctl.h>
                struct litepcie_ioctl_reg { uint32_t addr; uint32_t val; uint8_t is_write; };
                struct litepcie_ioctl_flash { int tx_len; uint64_t tx_data; uint64_t rx_data; };
                struct litepcie_ioctl_icap { uint8_t addr; uint32_t data; };
                struct litepcie_ioctl_dma { uint8_t loopback_enable; };
                struct litepcie_ioctl_dma_writer { uint8_t enable; int64_t hw_count; int64_t sw_count; };
                struct litepcie_ioctl_dma_reader { uint8_t enable; int64_t hw_count; int64_t sw_count; };
                struct litepcie_ioctl_mmap_dma_info { uint64_t dma_tx_buf_offset, dma_tx_buf_size, dma_tx_buf_count, dma_rx_buf_offset, dma_rx_buf_size, dma_rx_buf_count; };
                struct litepcie_ioctl_lock { uint8_t dma_reader_request, dma_writer_request, dma_reader_release, dma_writer_release, dma_reader_status, dma_writer_status; };
                struct litepcie_ioctl_mmap_dma_update { int64_t sw_count; };
                #define M 'S'
                int main(void) {
                  printf("{\"Reg\":%lu,\"Flash\":%lu,\"Icap\":%lu,\"Dma\":%lu,\"DmaWriter\":%lu,\"DmaReader\":%lu,\"MmapDmaInfo\":%lu,\"Lock\":%lu,\"MmapDmaWriterUpdate\":%lu,\"MmapDmaReaderUpdate\":%lu,",
                    (unsigned long)_IOWR(M, 0, struct litepcie_ioctl_reg), (unsigned long)_IOWR(M, 1, struct litepcie_ioctl_flash),
                    (unsigned long)_IOWR(M, 2, struct litepcie_ioctl_icap), (unsigned long)_IOW(M, 20, struct litepcie_ioctl_dma),
                    (unsigned long)_IOWR(M, 21, struct litepcie_ioctl_dma_writer), (unsigned long)_IOWR(M, 22, struct litepcie_ioctl_dma_reader),
                    (unsigned long)_IOR(M, 24, struct litepcie_ioctl_mmap_dma_info), (unsigned long)_IOWR(M, 25, struct litepcie_ioctl_lock),
                    (unsigned long)_IOW(M, 26, struct litepcie_ioctl_mmap_dma_update), (unsigned long)_IOW(M, 27, struct litepcie_ioctl_mmap_dma_update));
                  printf("\"reg_is_write\":%zu,\"icap_data\":%zu,\"dma_hw\":%zu,\"dma_sw\":%zu,\"lock_writer_status\":%zu,\"flash_rx\":%zu}\n",
                    offsetof(struct litepcie_ioctl_reg, is_write), offsetof(struct litepcie_ioctl_icap, data), offsetof(struct litepcie_ioctl_dma_writer, hw_count),
                    offsetof(struct litepcie_ioctl_dma_writer, sw_count), offsetof(struct litepcie_ioctl_lock, dma_writer_status), offsetof(struct litepcie_ioctl_flash, rx_data));
                  return 0;
                }
                """);
            string exe = Path.Combine(dir, "probe");
            var build = ProcessRunner.Run(cc, [src, "-o", exe], TimeSpan.FromMinutes(1));
            build.ExitCode.Should().Be(0, build.Output);
            var run = ProcessRunner.Run(exe, [], TimeSpan.FromSeconds(10));
            var c = JsonDocument.Parse(run.Stdout).RootElement;
            foreach (var (name, value) in new (string, uint)[]
            {
                ("Reg", LitePcieIoctl.Reg), ("Flash", LitePcieIoctl.Flash), ("Icap", LitePcieIoctl.Icap), ("Dma", LitePcieIoctl.Dma),
                ("DmaWriter", LitePcieIoctl.DmaWriter), ("DmaReader", LitePcieIoctl.DmaReader), ("MmapDmaInfo", LitePcieIoctl.MmapDmaInfo),
                ("Lock", LitePcieIoctl.Lock), ("MmapDmaWriterUpdate", LitePcieIoctl.MmapDmaWriterUpdate), ("MmapDmaReaderUpdate", LitePcieIoctl.MmapDmaReaderUpdate),
            })
            {
                c.GetProperty(name).GetUInt32().Should().Be(value, $"LITEPCIE_IOCTL for {name} as the C compiler computes it");
            }

            c.GetProperty("reg_is_write").GetInt32().Should().Be((int)Marshal.OffsetOf<LitePcieReg>(nameof(LitePcieReg.IsWrite)));
            c.GetProperty("icap_data").GetInt32().Should().Be((int)Marshal.OffsetOf<LitePcieIcap>(nameof(LitePcieIcap.Data)));
            c.GetProperty("dma_hw").GetInt32().Should().Be((int)Marshal.OffsetOf<LitePcieDmaControl>(nameof(LitePcieDmaControl.HwCount)));
            c.GetProperty("dma_sw").GetInt32().Should().Be((int)Marshal.OffsetOf<LitePcieDmaControl>(nameof(LitePcieDmaControl.SwCount)));
            c.GetProperty("lock_writer_status").GetInt32().Should().Be((int)Marshal.OffsetOf<LitePcieLock>(nameof(LitePcieLock.WriterStatus)));
            c.GetProperty("flash_rx").GetInt32().Should().Be((int)Marshal.OffsetOf<LitePcieFlash>(nameof(LitePcieFlash.RxData)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
