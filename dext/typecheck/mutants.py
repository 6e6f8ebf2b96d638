#!/usr/bin/env python3
"""dext_typecheck_mutants: proves the type-check tier has teeth.

For each entry of mutations.py a copy of dext/driverkit/LitePCIeDriver is mutated (the `find` text
must occur exactly once in the real file, so the list tracks the code), its .iig files are turned
into headers again, and the mutated file is compiled as dext_typecheck does. Every mutant must be
rejected, and for the reason the entry names. The unmutated copy is compiled first as the control.

Exit status: 0 all rejected, 1 a mutant survived, was rejected for another reason, or is stale;
77 skipped (no vendor tree and not LITEPCIE_HIL_CI).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import typecheck as tc  # noqa: E402
from mutations import MUTATIONS  # noqa: E402


def first_error(text: str) -> str:
    for line in text.splitlines():
        if "error:" in line or "lpc-iig:" in line:
            return line.strip()[:200]
    return (text.strip().splitlines() or [""])[0][:200]


def run_mutant(m: dict, base: tc.Layout, work: str) -> tuple[str, str, str]:
    """(status, id, detail) with status 'rejected', 'SURVIVED', 'WRONG-REASON' or 'STALE'."""
    glue = os.path.join(work, m["id"])
    shutil.rmtree(glue, ignore_errors=True)
    shutil.copytree(base.glue, glue)
    path = os.path.join(glue, m["file"])
    if not os.path.exists(path):
        return "STALE", m["id"], f"{m['file']} does not exist"
    if m.get("find") is not None:
        with open(path) as f:
            text = f.read()
        n = text.count(m["find"])
        if n != 1:
            return "STALE", m["id"], f"the text to mutate occurs {n} times in {m['file']} (must be exactly once): update mutations.py"
        with open(path, "w") as f:
            f.write(text.replace(m["find"], m["replace"]))

    layout = tc.Layout(os.path.join(work, m["id"] + "-build"), base.vendor, glue, base.clang)
    layout.sdk, layout.gen_apple = base.sdk, base.gen_apple  # Apple's headers do not change
    errors = layout.generate(layout.our_iigs(), 1)
    output = "\n".join(errors)
    rc = 1 if errors else 0
    if not errors:
        targets = m.get("targets", [tc.TARGETS[0]])
        if "deployment" in m:
            targets = [re.sub(r"macos[0-9.]+$", "macos" + m["deployment"], t) for t in targets]
        sources = [path] if path.endswith(".cpp") else tc.glue_sources(glue)
        for target in targets:
            for source in sources:
                _, _, code, err = tc.compile_one(layout, source, target, m.get("flags", []))
                if code != 0:
                    rc, output = code, output + "\n" + err
    if rc == 0:
        return "SURVIVED", m["id"], "compiled cleanly"
    if not re.search(m["expect"], output, re.S):
        return "WRONG-REASON", m["id"], f"expected /{m['expect']}/, got: {first_error(output)}"
    return "rejected", m["id"], first_error(output)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vendor", default=os.path.join(tc.REPO, "..", "shared", "vendor", "apple"))
    ap.add_argument("--build", default=os.path.join(tc.REPO, "build", "dext-typecheck-mutants"))
    ap.add_argument("--clang", default=os.environ.get("LPC_TYPECHECK_CLANG", "clang++-14"))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("LPC_TYPECHECK_JOBS", "2")))
    ap.add_argument("--only", default=None, help="run one mutant by id")
    args = ap.parse_args(argv)

    if not shutil.which(args.clang):
        print(f"dext_typecheck_mutants: {args.clang} not found (apt-get install clang-14)", file=sys.stderr)
        return 1
    tc.vendor_or_skip(args.vendor)
    started = time.monotonic()
    base = tc.Layout(args.build, args.vendor, os.path.join(tc.DEXT, "driverkit", "LitePCIeDriver"), args.clang)
    base.prepare()
    errors = base.generate(base.apple_iigs() + base.our_iigs(), args.jobs)
    if errors:
        print("dext_typecheck_mutants: header generation failed:\n" + "\n".join(errors), file=sys.stderr)
        return 1

    # The control: the unmutated glue must pass, or a rejection proves nothing.
    for source in tc.glue_sources(base.glue):
        _, _, code, err = tc.compile_one(base, source, tc.TARGETS[0], [])
        if code != 0:
            print(f"dext_typecheck_mutants: the unmutated {os.path.basename(source)} does not compile:\n{err}", file=sys.stderr)
            return 1

    mutations = [m for m in MUTATIONS if args.only in (None, m["id"])]
    ids = [m["id"] for m in mutations]
    if len(set(ids)) != len(ids):
        print("dext_typecheck_mutants: duplicate mutant ids in mutations.py", file=sys.stderr)
        return 1
    work = os.path.join(base.build, "mutants")
    os.makedirs(work, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda m: run_mutant(m, base, work), mutations))

    width = max(len(i) for i in ids)
    for (status, mid, detail), m in zip(results, mutations):
        print(f"  {status:<12} {mid:<{width}}  {m['what']}\n  {'':<12} {'':<{width}}  {detail}")
    rejected = sum(1 for r in results if r[0] == "rejected")
    print(f"dext_typecheck_mutants: {rejected} of {len(results)} mutants rejected for the intended reason "
          f"(control clean), {time.monotonic() - started:.1f} s")
    return 0 if rejected == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
