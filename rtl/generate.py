#!/usr/bin/env python3
#
# LitePcie.Hil — RTL generation for the simulated boards.
#
# Elaborates, for each simulated board profile that has a fixtures/boards/<board>/gateware.json, the
# LitePCIe configuration that profile describes around a simulation PHY of ours whose TLP streams, MSI
# port and configuration inputs are top-level ports, and writes:
#
#   rtl/boards/<board>/litepcie_core.v       the Verilog (LiteX's output, untouched)
#   rtl/boards/<board>/*.init                $readmemh files (identifier ROM, MSI-X table)
#   rtl/boards/<board>/rtl.json              what the Verilator host needs to know (widths, byte order, ports)
#   fixtures/boards/<board>/csr.json|csr.csv LiteX's own CSR map of that RTL (the profile's map)
#
# Runs under Debian's python3 with python3-yaml and the pinned vendor trees on PYTHONPATH (nothing from
# PyPI): PYTHONPATH=../shared/vendor/migen:../shared/vendor/litex:../shared/vendor/litepcie. With the
# board's build_time as SOURCE_DATE_EPOCH the output is byte-identical between runs.
#
#   python3 rtl/generate.py                    # every board with a gateware.json
#   python3 rtl/generate.py --board sim-ac701-2ch
#   python3 rtl/generate.py --out /tmp/x       # write the tree under /tmp/x instead (for comparisons)
#
# Two flows, as LitePCIe designs are built in practice:
#   standalone  the core LitePCIe's gen.py builds (its LitePCIeCore class, its CSR reservations), with our
#               PHY passed in place of a vendor PHY; ctrl_reset reaches nothing (no CRG reset), as there.
#   soc         a LiteX SoC that adds the core with SoC.add_pcie(); its CRG has a reset, so ctrl_reset
#               resets the whole SoC, as on a LiteX SoC board. With "user_ports": true the DMA's user side
#               (writer sink, reader source) is wired to top-level ports as the board's user logic would be.

import argparse
import calendar
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = os.path.join(ROOT, "fixtures", "boards")
RTL_BOARDS = os.path.join(ROOT, "rtl", "boards")
VENDOR = os.path.normpath(os.path.join(ROOT, "..", "shared", "vendor"))

# Keys a gateware.json may carry (gen.py's names where gen.py has the setting).
KNOWN_KEYS = {
    "$comment", "flow", "phy_family", "phy_lanes", "phy_data_width", "phy_bar0_size", "ep_max_pending_requests",
    "ep_address_width", "mmap", "mmap_base", "mmap_size", "dma_channels", "dma_buffering", "dma_loopback",
    "dma_synchronizer", "dma_monitor", "dma_status", "msi_irqs", "msi_x", "msi_multivector", "build_time",
    "csr_base", "csr_map", "ident", "soc_reset", "phy_device", "user_ports",
}
FAMILIES = {"S7PCIEPHY": "big", "USPCIEPHY": "little", "USPPCIEPHY": "little"}
# UltraScale(+) hard IPs have separate request and completion interfaces (RQ/RC/CQ/CC); 7-Series one TX and one RX stream.
SPLIT_STREAMS = {"USPCIEPHY", "USPPCIEPHY"}


class ConfigError(Exception):
    pass


def load_config(board):
    path = os.path.join(BOARDS, board, "gateware.json")
    with open(path) as f:
        cfg = json.load(f)
    problems = []
    for k in cfg:
        if k not in KNOWN_KEYS:
            problems.append(f"{k}: unknown key (accepted {', '.join(sorted(KNOWN_KEYS))})")
    for k in ("phy_bar0_size", "mmap_base", "mmap_size", "csr_base"):
        if isinstance(cfg.get(k), str):
            cfg[k] = int(cfg[k], 0)
    if cfg.get("flow") not in ("standalone", "soc"):
        problems.append(f"flow = {cfg.get('flow')!r}: accepted standalone or soc")
    if cfg.get("phy_family") not in FAMILIES:
        problems.append(f"phy_family = {cfg.get('phy_family')!r}: accepted {', '.join(FAMILIES)}")
    if cfg.get("phy_data_width") not in (64, 128, 256):
        problems.append(f"phy_data_width = {cfg.get('phy_data_width')!r}: accepted 64, 128 or 256")
    if cfg.get("ep_address_width", 32) not in (32, 64):
        problems.append(f"ep_address_width = {cfg.get('ep_address_width')!r}: accepted 32 or 64")
    try:
        datetime.datetime.strptime(cfg.get("build_time", ""), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        problems.append(f"build_time = {cfg.get('build_time')!r}: accepted YYYY-MM-DD HH:MM:SS (UTC)")
    if problems:
        raise ConfigError(f"{path}:\n  - " + "\n  - ".join(problems))
    return cfg


# --------------------------------------------------------------------------------------------------
# Elaboration (runs in a fresh interpreter per board: gen.py sets class attributes of SoCMini on import)
# --------------------------------------------------------------------------------------------------

def elaborate(board, out_dir):
    cfg = load_config(board)
    epoch = calendar.timegm(datetime.datetime.strptime(cfg["build_time"], "%Y-%m-%d %H:%M:%S").timetuple())
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    # LiteX honours SOURCE_DATE_EPOCH for the identifier only: the Verilog banner/trailer and the csr.csv
    # header read the wall clock. This process does nothing but elaborate one board, so its clock is the
    # build time (TZ=UTC is set by the parent), which makes the output byte-identical between runs.
    import time
    time.time = lambda: float(epoch)

    from migen import Signal, ClockDomain, Case, If, Cat, Constant
    from litex.gen import LiteXModule
    from litex.build.generic_platform import GenericPlatform, Pins, Subsignal
    from litex.soc.interconnect import stream
    from litex.soc.interconnect.csr import CSRStatus, CSRField
    from litepcie.common import phy_layout, msi_layout, get_bar_mask

    family = cfg["phy_family"]
    data_width = cfg["phy_data_width"]

    class SimulationPlatform(GenericPlatform):
        """
        A platform with no vendor toolchain: building writes the Verilog and its data files. Its device is the board's
        FPGA part: LitePCIe's packetizer reads it (UltraScale parts at 256/512 bits force 4-DW request headers).
        """

        def __init__(self):
            GenericPlatform.__init__(self, cfg.get("phy_device", "sim"), io=[], name="litepcie_hil_sim")

        def add_period_constraint(self, clk, period, keep=True, name=None):
            pass

        def add_false_path_constraint(self, from_, to):
            pass

        def build(self, fragment, build_dir, build_name="litepcie_core", run=False, **kwargs):
            os.makedirs(build_dir, exist_ok=True)
            cwd = os.getcwd()
            os.chdir(build_dir)  # Migen writes $readmemh files into the working directory.
            try:
                v = self.get_verilog(fragment, name=build_name)
                v.write(build_name + ".v")
            finally:
                os.chdir(cwd)
            return v.ns

    class SimulationPHY(LiteXModule):
        """
        Stands where a vendor PHY stands: the TLP streams, the MSI port and the configuration the hard IP
        reports are top-level ports driven by the simulation host (our root complex and PCI function model).
        CSRs are those of the PHY family the board uses, so the CSR map is the board's.
        """

        def __init__(self, platform, pads=None, data_width=64, pcie_data_width=None, bar0_size=0x100000, **kwargs):
            self.endianness = FAMILIES[family]
            self.qword_aligned = False
            self.data_width = data_width
            self.bar0_size = bar0_size
            self.bar0_mask = get_bar_mask(bar0_size)
            split = family in SPLIT_STREAMS
            if split:
                self.req_sink = stream.Endpoint(phy_layout(data_width))    # requests to the host (RQ)
                self.cmp_sink = stream.Endpoint(phy_layout(data_width))    # completions to the host (CC)
                self.req_source = stream.Endpoint(phy_layout(data_width))  # requests from the host (CQ)
                self.cmp_source = stream.Endpoint(phy_layout(data_width))  # completions from the host (RC)
            else:
                self.sink = stream.Endpoint(phy_layout(data_width))    # TLPs to the host (TX)
                self.source = stream.Endpoint(phy_layout(data_width))  # TLPs from the host (RX)
            self.msi = stream.Endpoint(msi_layout())
            self.id = Signal(16)
            self.max_request_size = Signal(16)
            self.max_payload_size = Signal(16)

            # The hard IP's status registers, per family.
            if family == "S7PCIEPHY":
                self._link_status = CSRStatus(fields=[
                    CSRField("status", size=1), CSRField("rate", size=1), CSRField("width", size=2),
                    CSRField("ltssm", size=6),
                ])
                self._msi_enable = CSRStatus()
                self._msix_enable = CSRStatus()
            else:
                self._link_status = CSRStatus(fields=[
                    CSRField("status", size=1), CSRField("phy_down", size=1), CSRField("phy_status", size=2),
                    CSRField("rate", size=3), CSRField("width", size=4), CSRField("ltssm", size=6),
                ])
                self._msi_enable = CSRStatus()
            self._bus_master_enable = CSRStatus()
            self._max_request_size = CSRStatus(16)
            self._max_payload_size = CSRStatus(16)

            # Top-level ports.
            lsw = len(self._link_status.status)

            def tlp_stream(name):
                return (name, 0,
                    Subsignal("valid", Pins(1)), Subsignal("ready", Pins(1)),
                    Subsignal("first", Pins(1)), Subsignal("last", Pins(1)),
                    Subsignal("dat", Pins(data_width)), Subsignal("be", Pins(data_width // 8)))

            streams = ["phy_cq", "phy_rc", "phy_rq", "phy_cc"] if split else ["phy_rx", "phy_tx"]
            platform.add_extension([tlp_stream(n) for n in streams] + [
                ("phy_msi", 0, Subsignal("valid", Pins(1)), Subsignal("ready", Pins(1)), Subsignal("dat", Pins(8))),
                ("cfg", 0,
                    Subsignal("id", Pins(16)),
                    Subsignal("max_request_size", Pins(3)),   # Device Control bits 14:12 (encoded)
                    Subsignal("max_payload_size", Pins(3)),   # Device Control bits 7:5 (encoded)
                    Subsignal("bus_master_enable", Pins(1)),
                    Subsignal("msi_enable", Pins(1)),
                    Subsignal("msix_enable", Pins(1)),
                    Subsignal("link_status", Pins(lsw))),
            ])
            def from_host(pads, ep):
                return [ep.valid.eq(pads.valid), pads.ready.eq(ep.ready), ep.first.eq(pads.first),
                        ep.last.eq(pads.last), ep.dat.eq(pads.dat), ep.be.eq(pads.be)]

            def to_host(pads, ep):
                return [pads.valid.eq(ep.valid), ep.ready.eq(pads.ready), pads.first.eq(ep.first),
                        pads.last.eq(ep.last), pads.dat.eq(ep.dat), pads.be.eq(ep.be)]

            if split:
                self.comb += from_host(platform.request("phy_cq"), self.req_source)
                self.comb += from_host(platform.request("phy_rc"), self.cmp_source)
                self.comb += to_host(platform.request("phy_rq"), self.req_sink)
                self.comb += to_host(platform.request("phy_cc"), self.cmp_sink)
            else:
                self.comb += from_host(platform.request("phy_rx"), self.source)
                self.comb += to_host(platform.request("phy_tx"), self.sink)
            msi = platform.request("phy_msi")
            c = platform.request("cfg")
            self.comb += [msi.valid.eq(self.msi.valid), self.msi.ready.eq(msi.ready), msi.dat.eq(self.msi.dat)]

            # Hard IP configuration: sizes decoded as the vendor PHYs do (capped at 512 bytes).
            def convert_size(command, size, max_size=512):
                cases, value = {}, 128
                for i in range(6):
                    cases[i] = size.eq(value)
                    value = min(value * 2, max_size)
                return Case(command, cases)

            self.comb += [
                convert_size(c.max_request_size, self.max_request_size),
                convert_size(c.max_payload_size, self.max_payload_size),
                self.id.eq(c.id),
                self._msi_enable.status.eq(c.msi_enable),
                self._bus_master_enable.status.eq(c.bus_master_enable),
                self._max_request_size.status.eq(self.max_request_size),
                self._max_payload_size.status.eq(self.max_payload_size),
            ]
            # link_status is a CSRStatus with fields: drive each field from its bits of the raw input.
            offset = 0
            for field in self._link_status.fields.fields:
                self.comb += getattr(self._link_status.fields, field.name).eq(c.link_status[offset:offset + field.size])
                offset += field.size
            if family == "S7PCIEPHY":
                self.comb += self._msix_enable.status.eq(c.msix_enable)

            # Clocking: the standalone core's CRG takes its clock from the PHY (ClockSignal("pcie")).
            self.cd_pcie = ClockDomain()
            if pads is not None:
                self.comb += [self.cd_pcie.clk.eq(pads.clk_p), self.cd_pcie.rst.eq(~pads.rst_n)]
                for s in ("tx_p", "tx_n"):
                    self.comb += getattr(pads, s).eq(0)

    platform = SimulationPlatform()
    if cfg["flow"] == "standalone":
        soc = build_standalone(cfg, platform, SimulationPHY)
    else:
        soc = build_soc(cfg, platform, SimulationPHY)

    from litex.soc.integration.builder import Builder
    gateware = os.path.join(out_dir, "gateware")
    builder = Builder(soc, output_dir=out_dir, gateware_dir=gateware, software_dir=os.path.join(out_dir, "software"),
                      compile_software=False, compile_gateware=False,
                      csr_json=os.path.join(out_dir, "csr.json"), csr_csv=os.path.join(out_dir, "csr.csv"))
    builder.build(build_name="litepcie_core")

    # What the simulation host needs (ports, widths, byte order) beside the Verilog.
    channels = []
    for i in range(cfg["dma_channels"]):
        dma = getattr(soc, f"pcie_dma{i}")
        channels.append({
            "index": i,
            "data_width": len(dma.sink.data) if hasattr(dma, "sink") else data_width,
            "loopback": bool(cfg.get("dma_loopback", True)),
            "synchronizer": bool(cfg.get("dma_synchronizer", False)),
            "buffering": cfg.get("dma_buffering", 1024),
        })
    host = {
        "board": board,
        "flow": cfg["flow"],
        "phy_family": family,
        "endianness": FAMILIES[family],
        "split_streams": family in SPLIT_STREAMS,
        "data_width": data_width,
        "link_status_width": len(soc.pcie_phy._link_status.status),
        "address_width": cfg.get("ep_address_width", 32),
        "bar0_size": cfg["phy_bar0_size"],
        "msi": "msi-x" if cfg.get("msi_x") else "msi-multi-vector" if cfg.get("msi_multivector") else "msi",
        "mmap": {"base": cfg["mmap_base"], "size": cfg["mmap_size"]} if cfg.get("mmap") else None,
        "user_ports": cfg["flow"] == "standalone" or bool(cfg.get("user_ports", False)),
        "soc_reset": cfg["flow"] == "soc",
        "channels": channels,
    }
    with open(os.path.join(out_dir, "rtl.json"), "w") as f:
        json.dump(host, f, indent=2, sort_keys=True)
        f.write("\n")


def build_standalone(cfg, platform, phy_cls):
    """LitePCIe's own standalone core (gen.py's LitePCIeCore) with our PHY in place of the vendor PHY."""
    from litepcie.gen import LitePCIeCore
    core_config = {
        "phy": phy_cls,
        "phy_lanes": cfg.get("phy_lanes", 4),
        "phy_data_width": cfg["phy_data_width"],
        "phy_pcie_data_width": cfg["phy_data_width"],
        "phy_bar0_size": cfg["phy_bar0_size"],
        "clk_freq": 125e6,
        "clk_external": False,
        "ep_max_pending_requests": cfg.get("ep_max_pending_requests", 4),
        "ep_address_width": cfg.get("ep_address_width", 32),
        "ctrl": False,
        "mmap": cfg.get("mmap", False),
        "dma_channels": cfg["dma_channels"],
        "dma_buffering": cfg.get("dma_buffering", 1024),
        "dma_loopback": cfg.get("dma_loopback", True),
        "dma_synchronizer": cfg.get("dma_synchronizer", False),
        "dma_monitor": cfg.get("dma_monitor", False),
        "msi_irqs": cfg.get("msi_irqs", 1),
        "msi_x": cfg.get("msi_x", False),
        "msi_multivector": cfg.get("msi_multivector", False),
    }
    if core_config["mmap"]:
        core_config["mmap_base"] = cfg["mmap_base"]
        core_config["mmap_size"] = cfg["mmap_size"]
    return LitePCIeCore(platform, core_config)


def build_soc(cfg, platform, phy_cls):
    """A LiteX SoC (no CPU here) with LitePCIe added the way LiteX boards add it: SoC.add_pcie()."""
    from migen import Signal, ClockDomain
    from litex.gen import LiteXModule
    from litex.build.generic_platform import Pins
    from litex.soc.integration.soc_core import SoCMini

    class SoCCRG(LiteXModule):
        """A board CRG with a reset: the SoC controller's soc_rst reaches every sys register through it."""

        def __init__(self, platform):
            self.rst = Signal()
            self.cd_sys = ClockDomain()
            platform.add_extension([("sys_clk", 0, Pins(1)), ("sys_rst", 0, Pins(1))])
            clk, rst = platform.request("sys_clk"), platform.request("sys_rst")
            self.comb += [self.cd_sys.clk.eq(clk), self.cd_sys.rst.eq(rst | self.rst)]

    class SimulatedSoC(SoCMini):
        mem_map = {"csr": cfg.get("csr_base", 0xF0000000)}
        csr_map = dict(cfg.get("csr_map", {}))

        def __init__(self):
            SoCMini.__init__(self, platform, clk_freq=125e6, csr_data_width=32, csr_ordering="big",
                             ident=cfg.get("ident", "LiteX SoC"), ident_version=True)
            self.crg = SoCCRG(platform)
            self.pcie_phy = phy_cls(platform, None, data_width=cfg["phy_data_width"], bar0_size=cfg["phy_bar0_size"])
            self.comb += self.pcie_phy.cd_pcie.clk.eq(self.crg.cd_sys.clk)
            self.add_pcie(phy=self.pcie_phy, ndmas=cfg["dma_channels"],
                          max_pending_requests=cfg.get("ep_max_pending_requests", 8),
                          address_width=cfg.get("ep_address_width", 32),
                          with_dma_buffering=cfg.get("dma_buffering", 0) != 0,
                          dma_buffering_depth=cfg.get("dma_buffering", 1024),
                          with_dma_loopback=cfg.get("dma_loopback", True),
                          with_dma_synchronizer=cfg.get("dma_synchronizer", False),
                          with_dma_monitor=cfg.get("dma_monitor", False),
                          with_dma_status=cfg.get("dma_status", False),
                          msi_type="msi-x" if cfg.get("msi_x") else "msi-multi-vector" if cfg.get("msi_multivector") else "msi",
                          msi_width=cfg.get("msi_irqs", 32) if cfg.get("msi_x") else 32)
            if cfg.get("user_ports", False):
                self.add_user_ports()

        def add_user_ports(self):
            """
            The board's user logic on the DMA's user side, as a SoC design connects it: each channel's writer sink and
            reader source become top-level AXI-Stream ports (gen.py's names and gating, so the simulation host drives
            them as it drives a standalone core's), with the engines' enables as status outputs.
            """
            from litepcie.gen import get_axi_dma_ios
            for i in range(cfg["dma_channels"]):
                dma = getattr(self, f"pcie_dma{i}")
                platform.add_extension(get_axi_dma_ios(i, data_width=len(dma.sink.data)))
                status = platform.request(f"dma{i}_status")
                w = platform.request(f"dma{i}_writer_axi")
                r = platform.request(f"dma{i}_reader_axi")
                self.comb += [
                    status.writer_enable.eq(dma.writer.enable),
                    dma.sink.valid.eq(w.tvalid & dma.writer.enable),
                    w.tready.eq(dma.sink.ready & dma.writer.enable),
                    dma.sink.last.eq(w.tlast),
                    dma.sink.data.eq(w.tdata),
                    dma.sink.first.eq(w.tuser),
                    status.reader_enable.eq(dma.reader.enable),
                    r.tvalid.eq(dma.source.valid & dma.reader.enable),
                    dma.source.ready.eq(r.tready | ~dma.reader.enable),
                    r.tlast.eq(dma.source.last),
                    r.tdata.eq(dma.source.data),
                    r.tuser.eq(dma.source.first),
                ]

    return SimulatedSoC()


# --------------------------------------------------------------------------------------------------
# Driver: one subprocess per board, outputs copied into the tree
# --------------------------------------------------------------------------------------------------

def boards_with_gateware():
    return sorted(b for b in os.listdir(BOARDS) if os.path.isfile(os.path.join(BOARDS, b, "gateware.json")))


def outputs_of(tmp):
    """(relative destination, source) of every file a generation produced that the tree keeps."""
    gateware = os.path.join(tmp, "gateware")
    files = [(os.path.join("rtl", "boards", "{board}", n), os.path.join(gateware, n))
             for n in sorted(os.listdir(gateware)) if n.endswith(".v") or n.endswith(".init")]
    files.append((os.path.join("rtl", "boards", "{board}", "rtl.json"), os.path.join(tmp, "rtl.json")))
    for n in ("csr.json", "csr.csv"):
        files.append((os.path.join("fixtures", "boards", "{board}", n), os.path.join(tmp, n)))
    return files


def generate(board, dest_root):
    with tempfile.TemporaryDirectory(prefix=f"litepcie-rtl-{board}-") as tmp:
        env = dict(os.environ)
        env["TZ"] = "UTC"
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(VENDOR, p) for p in ("migen", "litex", "litepcie")] +
                                            ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--elaborate", board, "--out", tmp],
                           env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout)
            raise SystemExit(f"generate.py: elaborating {board} failed (exit {r.returncode})")
        rtl_dir = os.path.join(dest_root, "rtl", "boards", board)
        if os.path.isdir(rtl_dir):
            shutil.rmtree(rtl_dir)  # stale .init files of an older configuration must not survive
        for rel, src in outputs_of(tmp):
            dst = os.path.join(dest_root, rel.format(board=board))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            print(f"  {os.path.relpath(dst, dest_root)}")


def main():
    p = argparse.ArgumentParser(description="Generate the LitePCIe RTL and CSR maps of the simulated boards")
    p.add_argument("--board", action="append", help="board profile name (default: every board with a gateware.json)")
    p.add_argument("--out", help="root of the tree to write (default: this repository)")
    p.add_argument("--elaborate", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.elaborate:
        elaborate(a.elaborate, a.out)
        return
    if not os.path.isdir(VENDOR):
        raise SystemExit(f"generate.py: the vendor trees are not at {VENDOR} (../shared/vendor beside the repository)")
    boards = a.board or boards_with_gateware()
    try:
        for b in boards:
            load_config(b)
    except (ConfigError, FileNotFoundError, json.JSONDecodeError) as e:
        raise SystemExit(f"generate.py: {e}")
    dest = os.path.abspath(a.out) if a.out else ROOT
    for b in boards:
        print(f"{b}:")
        generate(b, dest)


if __name__ == "__main__":
    main()
