#!/usr/bin/env python3
"""dext_typecheck: the DriverKit glue, type-checked against Apple's published interfaces on Linux.

1. Turns Apple's .iig files (xnu iokit/DriverKit, IOPCIFamily PCIDriverKit, read from
   ../shared/vendor/apple), the stand-in timer source and ours (dext/driverkit/LitePCIeDriver/*.iig)
   into headers of iig's shape with iig.py, in the build directory.
2. Compiles every C++ file of dext/driverkit, and the core sources the Xcode target compiles with it,
   with clang -fsyntax-only -Werror for each Apple target (arm64 and x86_64, macOS 13 = DriverKit 22,
   the deployment target of project.yml), with the DriverKit compile flags and the warnings below.

Exit status: 0 clean, 1 a diagnostic or a generator refusal (printed), 77 skipped (no vendor tree and
not LITEPCIE_HIL_CI; the reason is printed). A JSON report (files, targets, warnings, seconds) goes to
<build>/typecheck-report.json.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
DEXT = os.path.dirname(HERE)
REPO = os.path.dirname(DEXT)

TARGETS = ["arm64-apple-macos13", "x86_64-apple-macos13"]
# What DriverKit code is compiled with (docs/dext-design.md#build-flags), on a freestanding target: nothing from
# the Linux host's C/C++ library can leak in.
BASE_FLAGS = ["-fsyntax-only", "-x", "c++", "-std=gnu++17", "-fblocks", "-fno-exceptions", "-fno-rtti",
              "-ffreestanding", "-nostdlibinc", "-DXNU_PLATFORM_DriverKit=1", "-DPLATFORM_DriverKit=1"]
WARNINGS = ["-Werror", "-Wall", "-Wextra", "-Wconversion", "-Wshorten-64-to-32", "-Wsign-conversion", "-Wshadow",
            "-Wformat=2", "-Wunguarded-availability-new"]

# Apple's interface files the glue's includes reach (all of xnu's published DriverKit .iig files are
# generated; IOPCIDevice.iig from IOPCIFamily).
XNU = "xnu-11417.101.15/iokit/DriverKit"
PCI = "IOPCIFamily-726.0.5/PCIDriverKit"


class Failure(Exception):
    pass


def vendor_or_skip(vendor: str) -> str:
    for sub in (XNU, PCI):
        if not os.path.isdir(os.path.join(vendor, sub)):
            reason = (f"SKIP: Apple's DriverKit interfaces are not at {os.path.join(vendor, sub)} "
                      f"(expected ../shared/vendor/apple beside the project; see ../shared/vendor/README.md)")
            if os.environ.get("LITEPCIE_HIL_CI") == "1":
                print(reason.replace("SKIP", "FAIL (LITEPCIE_HIL_CI=1)"), file=sys.stderr)
                sys.exit(1)
            print(reason)
            sys.exit(77)
    return vendor


def run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


class Layout:
    """The include tree of one check: Apple's files, generated headers, stand-ins, ours."""

    def __init__(self, build: str, vendor: str, glue: str, clang: str):
        self.build = os.path.abspath(build)
        self.vendor = os.path.abspath(vendor)
        self.glue = os.path.abspath(glue)
        self.clang = clang
        self.sdk = os.path.join(self.build, "sdk")            # DriverKit/, PCIDriverKit/ → Apple's folders
        self.gen_apple = os.path.join(self.build, "gen-apple")  # headers generated from Apple's .iig
        self.gen_ours = os.path.join(self.build, "gen-ours")    # headers generated from our .iig
        self.standins = os.path.join(HERE, "standins")

    def prepare(self):
        os.makedirs(self.sdk, exist_ok=True)
        for name, sub in (("DriverKit", XNU), ("PCIDriverKit", PCI)):
            link = os.path.join(self.sdk, name)
            target = os.path.join(self.vendor, sub)
            if os.path.islink(link) and os.readlink(link) != target:
                os.unlink(link)
            if not os.path.exists(link):
                os.symlink(target, link)

    def iig_args(self, target: str) -> list[str]:
        # Parsing an .iig (-D__IIG=1): Apple's folders first, then the stand-in .iig, then ours.
        return ["-target", target, "-DXNU_PLATFORM_DriverKit=1", "-DPLATFORM_DriverKit=1", "-ffreestanding",
                "-nostdlibinc", "-I", self.sdk, "-I", self.standins, "-I", self.glue]

    def compile_args(self, target: str) -> list[str]:
        return ["-target", target, "-I", self.gen_ours, "-I", self.glue, "-I", os.path.join(DEXT, "core", "include"),
                "-isystem", self.gen_apple, "-isystem", self.standins, "-isystem", self.sdk]

    def control_args(self, target: str) -> list[str]:
        # Apple's IOPCIDevice.cpp spells one include "PCIDriverkit/..." (macOS file systems ignore case).
        case = os.path.join(self.build, "case")
        os.makedirs(case, exist_ok=True)
        link = os.path.join(case, "PCIDriverkit")
        if not os.path.exists(link):
            os.symlink(os.path.join(self.standins, "PCIDriverKit"), link)
        return ["-target", target, "-isystem", self.gen_apple, "-isystem", self.standins, "-isystem", self.sdk,
                "-isystem", case]

    def apple_iigs(self) -> list[tuple[str, str]]:
        """(source .iig, generated header) for every Apple and stand-in interface file."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.sdk, "DriverKit", "*.iig"))):
            out.append((path, os.path.join(self.gen_apple, "DriverKit", os.path.basename(path)[:-4] + ".h")))
        for path in sorted(glob.glob(os.path.join(self.sdk, "PCIDriverKit", "*.iig"))):
            out.append((path, os.path.join(self.gen_apple, "PCIDriverKit", os.path.basename(path)[:-4] + ".h")))
        for path in sorted(glob.glob(os.path.join(self.standins, "DriverKit", "*.iig"))):
            out.append((path, os.path.join(self.gen_apple, "DriverKit", os.path.basename(path)[:-4] + ".h")))
        return out

    def our_iigs(self) -> list[tuple[str, str]]:
        return [(p, os.path.join(self.gen_ours, os.path.basename(p)[:-4] + ".h"))
                for p in sorted(glob.glob(os.path.join(self.glue, "*.iig")))]

    def generate(self, pairs: list[tuple[str, str]], jobs: int) -> list[str]:
        def one(pair):
            src, hdr = pair
            r = run([sys.executable, os.path.join(HERE, "iig.py"), "--def", src, "--header", hdr, "--clang", self.clang,
                     "--", *self.iig_args(TARGETS[0])])
            return None if r.returncode == 0 else (r.stderr.strip() or r.stdout.strip())

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return [e for e in pool.map(one, pairs) if e]


def glue_sources(glue: str) -> list[str]:
    return sorted(glob.glob(os.path.join(glue, "*.cpp")))


def core_sources() -> list[str]:
    return sorted(glob.glob(os.path.join(DEXT, "core", "src", "*.cpp")))


def compile_one(layout: Layout, source: str, target: str, extra: list[str]) -> tuple[str, str, int, str]:
    cmd = [layout.clang, *BASE_FLAGS, *WARNINGS, *layout.compile_args(target), *extra, source]
    r = run(cmd)
    return source, target, r.returncode, (r.stderr or "").strip()


def control(layout: Layout, target: str) -> tuple[str, int, str]:
    """Apple's own implementation of IOPCIDevice (PCIDriverKit/IOPCIDevice.cpp) against the header our
    generator wrote from Apple's IOPCIDevice.iig: the generator's shape checked against Apple's code
    (out-of-line LOCALONLY methods and their overloads, ivars, the EXTENDS methods it calls). Errors
    only: Apple's file is not held to our warning flags."""
    source = os.path.join(layout.sdk, "PCIDriverKit", "IOPCIDevice.cpp")
    r = run([layout.clang, *BASE_FLAGS, "-w", *layout.control_args(target), source])
    return source, r.returncode, (r.stderr or "").strip()


def warnings_enabled(clang: str) -> int:
    """How many clang warnings the flags above turn on (diagtool show-enabled), or -1 if unknown."""
    diagtool = shutil.which("diagtool-14") or shutil.which("diagtool")
    if not diagtool:
        return -1
    r = subprocess.run([diagtool, "show-enabled", "-x", "c++", *WARNINGS, "-"], input="", capture_output=True, text=True)
    if r.returncode != 0:
        return -1
    return sum(1 for line in r.stdout.splitlines() if line.strip().startswith(("W ", "E ")))


def default_warnings() -> int:
    diagtool = shutil.which("diagtool-14") or shutil.which("diagtool")
    if not diagtool:
        return -1
    r = subprocess.run([diagtool, "show-enabled", "-x", "c++", "-"], input="", capture_output=True, text=True)
    return sum(1 for line in r.stdout.splitlines() if line.strip().startswith(("W ", "E "))) if r.returncode == 0 else -1


def check(layout: Layout, sources: list[str], targets: list[str], extra: list[str], jobs: int) -> list[tuple[str, str, int, str]]:
    work = [(s, t) for t in targets for s in sources]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda st: compile_one(layout, st[0], st[1], extra), work))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vendor", default=os.path.join(REPO, "..", "shared", "vendor", "apple"))
    ap.add_argument("--build", default=os.path.join(REPO, "build", "dext-typecheck"))
    ap.add_argument("--glue", default=os.path.join(DEXT, "driverkit", "LitePCIeDriver"))
    ap.add_argument("--clang", default=os.environ.get("LPC_TYPECHECK_CLANG", "clang++-14"))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("LPC_TYPECHECK_JOBS", "2")))
    args = ap.parse_args(argv)

    if not shutil.which(args.clang):
        print(f"dext_typecheck: {args.clang} not found (apt-get install clang-14)", file=sys.stderr)
        return 1
    vendor_or_skip(args.vendor)
    started = time.monotonic()
    layout = Layout(args.build, args.vendor, args.glue, args.clang)
    layout.prepare()

    errors = layout.generate(layout.apple_iigs() + layout.our_iigs(), args.jobs)
    if errors:
        print("dext_typecheck: header generation failed:\n" + "\n".join(errors), file=sys.stderr)
        return 1
    generated = len(layout.apple_iigs()) + len(layout.our_iigs())

    sources = glue_sources(layout.glue) + core_sources()
    results = check(layout, sources, TARGETS, [], args.jobs)
    failed = [r for r in results if r[2] != 0]
    for source, target, _, err in failed:
        print(f"--- {os.path.relpath(source, REPO)} [{target}]\n{err}\n", file=sys.stderr)
    controls = [control(layout, t) for t in TARGETS]
    for source, rc, err in controls:
        if rc != 0:
            print(f"--- control: Apple's {os.path.basename(source)} against the generated IOPCIDevice.h\n{err}\n", file=sys.stderr)
    failed += [c for c in controls if c[1] != 0]

    report = {
        "interfaceFilesGenerated": generated,
        "appleInterfaceHeaders": len(layout.apple_iigs()),
        "ourInterfaceFiles": [os.path.relpath(p, REPO) for p, _ in layout.our_iigs()],
        "filesChecked": [os.path.relpath(s, REPO) for s in sources],
        "targets": TARGETS,
        "compilations": len(results),
        "warningFlags": WARNINGS,
        "warningsEnabled": warnings_enabled(args.clang),
        "standIns": sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "standins", "**", "*.*"), recursive=True)
                           if not p.endswith("README.md")),
        "appleControl": "PCIDriverKit/IOPCIDevice.cpp",
        "defaultWarnings": default_warnings(),
        "failed": len(failed),
        "seconds": round(time.monotonic() - started, 1),
    }
    with open(os.path.join(layout.build, "typecheck-report.json"), "w") as f:
        json.dump(report, f, indent=2)
    apple = len(layout.apple_iigs())
    print(f"dext_typecheck: {len(glue_sources(layout.glue))} glue .cpp + {len(layout.our_iigs())} of our .iig "
          f"(dext/driverkit/LitePCIeDriver) and {len(core_sources())} core .cpp, against {apple} headers generated from "
          f"Apple's .iig files and the stand-in timer source, {len(TARGETS)} targets, {len(results)} compilations, "
          f"{report['warningsEnabled']} clang warnings enabled as errors ({report['warningsEnabled'] - report['defaultWarnings']} "
          f"beyond clang's defaults), Apple's IOPCIDevice.cpp as control, {report['seconds']} s: "
          + ("clean" if not failed else f"{len(failed)} FAILED"))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
