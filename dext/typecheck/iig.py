#!/usr/bin/env python3
"""lpc-iig: turns a DriverKit interface file (.iig) into a C++ header of the shape Apple's iig writes.

Apple's iig ships only inside Xcode. This generator lets Linux type-check the dext's glue against the
interfaces Apple publishes (xnu iokit/DriverKit/*.iig, IOPCIFamily PCIDriverKit/IOPCIDevice.iig) and
against our own .iig files. It is ours: it reads clang's JSON AST of the .iig parsed with -D__IIG=1
(where the annotation macros LOCAL, LOCALONLY, KERNEL, TYPE(...) expand to annotate attributes) and
writes, for every class defined in that file:

  #define Class_Method_Args  the parameter list of each RPC method (arrays decayed, as iig does)
  #define Class_Methods      Dispatch/_Dispatch, the RPC wrappers with an optional trailing
                             `OSDispatchMethod supermethod = NULL`, static methods, LOCALONLY members,
                             CreateAction<Method>() for TYPE() handlers, the `_Impl` declarations the
                             dext defines with IMPL(Class, Method), and the `_Handler` typedefs
  #define Class_VirtualMethods  virtual LOCALONLY methods and their overrides (init, free,
                             ExternalMethod, ...): overridden as plain C++, never through IMPL
  class Class : public Base { union { Class_IVars* ivars; Class_LocalIVars* lvars; };
                              using super = Base; Class_Methods Class_VirtualMethods };

Everything outside the class definitions is copied as written, with `#include <X/Y.iig>` turned into
`#include <X/Y.h>`. A TYPE(Base::Method) handler must have Base::Method's signature: the header
static_asserts that its _Handler type equals the base's. Availability attributes for the driverkit
platform (unknown to clang 14) become macOS ones, and the gates in GATES below are added to the
methods Apple introduced after the first DriverKit.

Usage: iig.py --def X.iig --header X.h [--clang clang++-14] -- <clang arguments: -I..., -D..., -target ...>
Exit status 1 with a message naming the file and the problem when clang or the checks refuse the input.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

# First macOS release whose PCI family has the method, from IOPCIFamily's history (measured on the pinned IOPCIFamily sources):
# GetBARInfo arrived in IOPCIFamily-484 (macOS 12), ConfigureInterrupts and Reset in 583 (macOS 13).
GATES = {
    ("IOPCIDevice", "GetBARInfo"): "12.0",
    ("IOPCIDevice", "ConfigureInterrupts"): "13.0",
    ("IOPCIDevice", "Reset"): "13.0",
}

# DriverKit release → macOS release (DriverKit 19 shipped with macOS 10.15).
DRIVERKIT_TO_MACOS = {"19": "10.15", "20": "11.0", "21": "12.0", "22": "13.0", "23": "14.0", "24": "15.0", "25": "26.0"}

ANNOTATION_MACROS = {
    "KERNEL": "kernel",
    "NATIVE": "native",
    "LOCAL": "local",
    "LOCALONLY": "localonly",
    "REMOTE": "remote",
    "LOCALHOST": "localhost",
    "INVOKEREPLY": "invokereply",
    "REPLY": "reply",
    "PORTMAKESEND": "MACH_MSG_TYPE_MAKE_SEND",
    "PORTCOPYSEND": "MACH_MSG_TYPE_COPY_SEND",
    "TARGET": "target",
    "IIG_SERIALIZABLE": "serializable",
    "IIG_CONCRETE": "concrete",
}


class IigError(Exception):
    pass


@dataclass
class Param:
    name: str
    type: str
    default: str | None = None

    def decl(self, with_default: bool = True) -> str:
        text = _join_type_name(self.type, self.name)
        if with_default and self.default is not None:
            text += " = " + self.default
        return text


@dataclass
class Method:
    cls: str
    name: str
    ret: str
    params: list[Param]
    canonical: str  # canonical function type, for TYPE() signature checks
    virtual: bool = False
    pure: bool = False
    static: bool = False
    const: bool = False
    override: bool = False
    annotations: list[str] = field(default_factory=list)
    availability: list[str] = field(default_factory=list)

    def has(self, annotation: str) -> bool:
        return annotation in self.annotations

    def type_target(self) -> str | None:
        for a in self.annotations:
            if a.startswith("type="):
                return a[len("type="):]
        return None


@dataclass
class Class:
    name: str
    base: str | None
    methods: list[Method]
    begin: int
    end: int  # offset of the closing brace
    file: str
    extends: str | None = None
    annotations: list[str] = field(default_factory=list)


# ---- clang JSON AST ----------------------------------------------------------------------------------


def _resolve_files(node, state):
    """clang's JSON dumper writes a location's "file" only when it changes: restore it everywhere."""
    if isinstance(node, dict):
        if "offset" in node and ("line" in node or "col" in node or "tokLen" in node):
            if "file" in node:
                state["file"] = node["file"]
            else:
                node["file"] = state["file"]
        for value in node.values():
            _resolve_files(value, state)
    elif isinstance(node, list):
        for value in node:
            _resolve_files(value, state)


def _expansion(loc: dict) -> dict:
    return loc.get("expansionLoc", loc) if isinstance(loc, dict) else loc


def _spelling(loc: dict) -> dict:
    return loc.get("spellingLoc", loc) if isinstance(loc, dict) else loc


class Sources:
    def __init__(self, cwd: str):
        self.cwd = cwd
        self.cache: dict[str, bytes] = {}

    def text(self, path: str) -> bytes:
        full = path if os.path.isabs(path) else os.path.join(self.cwd, path)
        if full not in self.cache:
            with open(full, "rb") as f:
                self.cache[full] = f.read()
        return self.cache[full]

    def span(self, begin: dict, end: dict) -> str:
        b, e = _expansion(begin), _expansion(end)
        data = self.text(b["file"])
        return data[b["offset"]: e["offset"] + e.get("tokLen", 0)].decode()


def _annotation(attr: dict, sources: Sources) -> str | None:
    """The string of an annotate attribute (clang 14's JSON leaves it out): read at the macro use."""
    begin = attr.get("range", {}).get("begin")
    if not begin:
        return None
    use = _expansion(begin)
    data = sources.text(use["file"])
    at = use["offset"]
    m = re.match(rb"([A-Za-z_][A-Za-z0-9_]*)", data[at:])
    if not m:
        return None
    word = m.group(1).decode()
    if word in ("TYPE", "IIG_TYPE", "QUEUENAME", "IIG_QUEUENAME", "EXTENDS", "IIG_EXTENDS"):
        rest = data[at + len(word):]
        depth, i = 0, 0
        while i < len(rest):
            c = rest[i:i + 1]
            if c == b"(":
                depth += 1
            elif c == b")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        arg = rest[rest.index(b"(") + 1: i].decode().strip()
        key = {"TYPE": "type", "IIG_TYPE": "type", "QUEUENAME": "queuename", "IIG_QUEUENAME": "queuename",
               "EXTENDS": "extends", "IIG_EXTENDS": "extends"}[word]
        return f"{key}={arg}"
    if word in ANNOTATION_MACROS:
        return ANNOTATION_MACROS[word]
    if word in ("IIG_KERNEL", "IIG_NATIVE", "IIG_LOCAL", "IIG_LOCALONLY", "IIG_REMOTE", "IIG_LOCALHOST",
                "IIG_INVOKEREPLY", "IIG_REPLY", "IIG_TARGET"):
        return word[4:].lower()
    # Written out: __attribute__((annotate("...")))
    spelled = _spelling(begin)
    sdata = sources.text(spelled["file"])
    m = re.search(rb'annotate\(\s*"([^"]*)"', sdata[spelled["offset"]: spelled["offset"] + 200])
    return m.group(1).decode() if m else None


def _split_function_type(qual: str) -> tuple[str, str, bool]:
    """'kern_return_t (IOService *) const' → ('kern_return_t', 'IOService *', True)."""
    text = qual.strip()
    const = False
    while True:
        stripped = False
        for suffix in (" const", " noexcept", " &&", " &"):
            if text.endswith(suffix):
                if suffix == " const":
                    const = True
                text = text[: -len(suffix)].rstrip()
                stripped = True
        if not stripped:
            break
    if not text.endswith(")"):
        raise IigError(f"unexpected method type '{qual}'")
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return text[:i].strip(), text[i + 1:-1], const
    raise IigError(f"unbalanced method type '{qual}'")


def _join_type_name(type_text: str, name: str) -> str:
    t = type_text.strip()
    if not name:
        return t
    # Function-pointer and block types carry the name inside: 'void (^)(void)' → 'void (^name)(void)'.
    for marker in ("(^)", "(*)"):
        if marker in t:
            return t.replace(marker, marker[:-1] + name + ")", 1)
    return f"{t} {name}"


def _macos_availability(text: str) -> str:
    def repl(m):
        version = m.group(1)
        major = version.split(".")[0]
        return f"availability(macos,introduced={DRIVERKIT_TO_MACOS.get(major, version)})"

    return re.sub(r"availability\(\s*driverkit\s*,\s*introduced\s*=\s*([0-9.]+)\s*\)", repl, text)


def _parse_method(node: dict, cls: str, sources: Sources) -> Method | None:
    if node.get("isImplicit"):
        return None
    ret, _, const = _split_function_type(node["type"]["qualType"])
    desugared = node["type"].get("desugaredQualType", node["type"]["qualType"])
    params: list[Param] = []
    annotations: list[str] = []
    availability: list[str] = []
    override = False
    for child in node.get("inner", []):
        kind = child.get("kind")
        if kind == "ParmVarDecl":
            default = None
            if child.get("init") == "c":
                expr = child["inner"][0]
                default = sources.span(expr["range"]["begin"], expr["range"]["end"])
            params.append(Param(child.get("name", ""), child["type"]["qualType"], default))
        elif kind == "AnnotateAttr":
            a = _annotation(child, sources)
            if a:
                annotations.append(a)
        elif kind == "OverrideAttr":
            override = True
        elif kind == "AvailabilityAttr":
            availability.append(_macos_availability(sources.span(child["range"]["begin"], child["range"]["end"])))
    param_types = []
    for p in node.get("inner", []):
        if p.get("kind") == "ParmVarDecl":
            param_types.append(p["type"].get("desugaredQualType", p["type"]["qualType"]))
    canonical_ret, _, _ = _split_function_type(desugared)
    return Method(
        cls=cls,
        name=node["name"],
        ret=ret,
        params=params,
        canonical=f"{canonical_ret} ({', '.join(param_types)})",
        virtual=bool(node.get("virtual")),
        pure=bool(node.get("pure")),
        static=node.get("storageClass") == "static",
        const=const,
        override=override,
        annotations=annotations,
        availability=availability,
    )


def parse(iig: str, clang: str, clang_args: list[str]) -> tuple[list[Class], dict[str, Class], str]:
    cmd = [clang, "-fsyntax-only", "-x", "c++", "-std=gnu++17", "-D__IIG=1", "-fblocks", "-fno-exceptions",
           "-fno-rtti", "-Wno-availability", "-Xclang", "-ast-dump=json", *clang_args, iig]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise IigError(f"clang refused {iig}:\n{run.stderr.strip()}")
    ast = json.loads(run.stdout)
    _resolve_files(ast, {"file": iig})
    sources = Sources(os.getcwd())
    main = os.path.realpath(iig)
    every: dict[str, Class] = {}
    mine: list[Class] = []
    for node in ast.get("inner", []):
        if node.get("kind") != "CXXRecordDecl" or not node.get("completeDefinition") or node.get("isImplicit"):
            continue
        if node.get("tagUsed") != "class":  # structs (IOAddressSegment, ...) are plain data: copied as written
            continue
        begin = _expansion(node["range"]["begin"])
        end = _expansion(node["range"]["end"])
        bases = node.get("bases", [])
        base = None
        if bases:
            base = re.sub(r"^(class|struct)\s+", "", bases[0]["type"]["qualType"]).strip()
        cls = Class(node["name"], base, [], begin["offset"], end["offset"], begin["file"])
        for child in node.get("inner", []):
            if child.get("kind") == "CXXMethodDecl":
                m = _parse_method(child, cls.name, sources)
                if m:
                    cls.methods.append(m)
            elif child.get("kind") == "AnnotateAttr":
                a = _annotation(child, sources)
                if a:
                    cls.annotations.append(a)
        for a in cls.annotations:
            if a.startswith("extends="):
                cls.extends = a[len("extends="):]
        if cls.name in every and every[cls.name].methods and not cls.methods:
            continue
        every[cls.name] = cls
        if os.path.realpath(begin["file"]) == main:
            mine.append(cls)
    return mine, every, main


# ---- header emission -------------------------------------------------------------------------------


def _declarations(every: dict[str, Class], cls: Class, name: str) -> list[Method]:
    """The base classes' declarations of `name`, nearest base first."""
    found: list[Method] = []
    seen = set()
    base = cls.base
    while base and base in every and base not in seen:
        seen.add(base)
        found += [m for m in every[base].methods if m.name == name]
        base = every[base].base
    return found


def _lookup(every: dict[str, Class], cls: Class, name: str) -> Method | None:
    """The nearest base class's declaration of `name`."""
    found = _declarations(every, cls, name)
    return found[0] if found else None


def _first_declaration(every: dict[str, Class], cls: Class, name: str) -> Method | None:
    """The declaration of `name` in the most distant base class (the one the _Args macro follows)."""
    found = _declarations(every, cls, name)
    return found[-1] if found else None


def _is_localonly(every: dict[str, Class], cls: Class, m: Method) -> bool:
    if m.has("localonly"):
        return True
    if m.override or m.virtual:
        base = _lookup(every, cls, m.name)
        if base is not None:
            owner = every[base.cls]
            return _is_localonly(every, owner, base)
    return False


def _macro(lines: list[str]) -> str:
    return "\\\n".join(lines) + "\n"


def _args_macro(name: str, params: list[Param]) -> str:
    body = ", \\\n".join("        " + p.decl(with_default=False) for p in params)
    return f"#define {name} \\\n{body}\n"


def emit_class(cls: Class, every: dict[str, Class], extensions: list[Class]) -> tuple[str, list[str]]:
    """Returns the text that replaces the class definition and static_asserts to place after it."""
    args_macros: list[str] = []
    methods: list[str] = ["", "public:", ""]
    impls: list[str] = []
    invokes: list[str] = []
    virtuals: list[str] = ["", "public:", ""]
    checks: list[str] = []
    c = cls.name

    methods += ["    virtual kern_return_t", "    Dispatch(const IORPC rpc) override;", "",
                "    static kern_return_t", f"    _Dispatch({c} * self, const IORPC rpc);", ""]

    all_methods = list(cls.methods)
    for ext in extensions:
        all_methods += ext.methods

    for m in all_methods:
        attrs = "".join(f" __attribute__(({a}))" for a in m.availability)
        gate = GATES.get((c, m.name))
        if gate:
            attrs += f" __attribute__((availability(macos,introduced={gate})))"
        params = ", ".join(p.decl() for p in m.params)
        const = " const" if m.const else ""
        if m.name in (c, "~" + c):
            continue
        if m.static:
            methods += ["    static " + m.ret, f"    {m.name}({params}){attrs};", ""]
            continue
        if _is_localonly(every, cls, m):
            if m.virtual or m.override:
                ov = " override" if (m.override or _lookup(every, cls, m.name) is not None) else ""
                virtuals += ["    virtual " + m.ret, f"    {m.name}({params}){const}{ov}{attrs};", ""]
            else:
                methods += ["    " + m.ret, f"    {m.name}({params}){const}{attrs};", ""]
            continue
        base = _lookup(every, cls, m.name)
        if base is not None and (m.override or m.virtual):
            # An RPC method of a base class, implemented here: only the _Impl and this class's _Args.
            first = _first_declaration(every, cls, m.name)
            args_macros.append(_args_macro(f"{c}_{m.name}_Args", first.params if first else m.params))
            if not m.has("kernel") and "kernel" not in cls.annotations:
                impls += ["    " + m.ret, f"    {m.name}_Impl({c}_{m.name}_Args);", ""]
            continue
        # A new RPC method: wrapper, _Impl (unless the kernel implements it), _Invoke, CreateAction.
        args_macros.append(_args_macro(f"{c}_{m.name}_Args", m.params))
        sep = ", " if params else ""
        methods += ["    " + m.ret, f"    {m.name}({params}{sep}OSDispatchMethod supermethod = NULL){const}{attrs};", ""]
        if not m.has("kernel") and "kernel" not in cls.annotations and not m.pure:
            impls += ["    " + m.ret, f"    {m.name}_Impl({c}_{m.name}_Args);", ""]
        handler_args = f", {c}_{m.name}_Args" if m.params else ""
        invokes += [f"    typedef {m.ret} (*{m.name}_Handler)(OSMetaClassBase * target{handler_args});",
                    "    static kern_return_t",
                    f"    {m.name}_Invoke(const IORPC rpc, OSMetaClassBase * target, {m.name}_Handler func);", ""]
        target = m.type_target()
        if target:
            methods += ["    kern_return_t", f"    CreateAction{m.name}(size_t referenceSize, OSAction ** action);", ""]
            tcls, _, tmeth = target.rpartition("::")
            tclass = every.get(tcls)
            tm = next((x for x in tclass.methods if x.name == tmeth), None) if tclass else None
            if tm is None:
                raise IigError(f"{c}::{m.name}: TYPE({target}) names no method that exists")
            checks.append(f"static_assert(__is_same({tcls}::{tmeth}_Handler, {c}::{m.name}_Handler),\n"
                          f"              \"{c}::{m.name} is a TYPE({target}) handler but its signature is "
                          f"{m.canonical}, not {tm.canonical}\");")

    methods += ["", "protected:", "    /* _Impl methods */", ""] + impls + ["", "public:", "    /* _Invoke methods */", ""] + invokes
    text = ["/* lpc-iig: generated from class %s */" % c, ""]
    text += args_macros
    text.append(f"#define {c}_Methods \\\n" + _macro(methods))
    text.append(f"#define {c}_VirtualMethods \\\n" + _macro(virtuals))
    text += [f"struct {c}_IVars;", f"struct {c}_LocalIVars;", ""]
    base = f" : public {cls.base}" if cls.base else ""
    text += [f"class {c}{base}", "{", "public:", "    union", "    {", f"        {c}_IVars * ivars;",
             f"        {c}_LocalIVars * lvars;", "    };"]
    if cls.base:
        text.append(f"    using super = {cls.base};")
    text += ["", f"    {c}_Methods", f"    {c}_VirtualMethods", "}"]
    return "\n".join(text), checks


def generate(iig: str, header: str, clang: str, clang_args: list[str]) -> None:
    mine, every, main = parse(iig, clang, clang_args)
    with open(main, "rb") as f:
        source = f.read()  # bytes: clang's offsets are byte offsets
    extensions: dict[str, list[Class]] = {}
    for cls in mine:
        if cls.extends:
            extensions.setdefault(cls.extends, []).append(cls)
    pieces = []
    cursor = 0
    trailing_checks: list[str] = []
    for cls in sorted(mine, key=lambda k: k.begin):
        pieces.append(source[cursor:cls.begin])
        if cls.extends:
            pieces.append((f"/* lpc-iig: class {cls.name} extends {cls.extends}: its methods are declared there */\n"
                           f"class {cls.name}\n{{\n}}").encode())
            checks = []
        else:
            text, checks = emit_class(cls, every, extensions.get(cls.name, []))
            pieces.append(text.encode())
        cursor = cls.end + 1
        # the class's own ';' follows; place the checks after it
        semi = source.index(b";", cursor)
        pieces.append(source[cursor:semi + 1])
        if checks:
            pieces.append(("\n" + "\n".join(checks)).encode())
        cursor = semi + 1
    pieces.append(source[cursor:])
    out = b"".join(pieces).decode()
    out = re.sub(r"(#\s*include\s*[<\"][^>\"]+)\.iig([>\"])", r"\1.h\2", out)
    out = _macos_availability(out)
    banner = (f"/* Generated by lpc-iig (dext/typecheck/iig.py) from {os.path.basename(iig)}: a header of the\n"
              f" * shape Apple's iig writes, for type-checking on Linux. Do not edit; do not commit. */\n\n")
    os.makedirs(os.path.dirname(os.path.abspath(header)), exist_ok=True)
    with open(header, "w") as f:
        f.write(banner + out)


def main(argv: list[str]) -> int:
    if "--" in argv:
        split = argv.index("--")
        ours, clang_args = argv[:split], argv[split + 1:]
    else:
        ours, clang_args = argv, []
    ap = argparse.ArgumentParser(description="lpc-iig: .iig → header of iig's shape (for type-checking)")
    ap.add_argument("--def", dest="definition", required=True)
    ap.add_argument("--header", required=True)
    ap.add_argument("--clang", default="clang++-14")
    args = ap.parse_args(ours)
    try:
        generate(args.definition, args.header, args.clang, clang_args)
    except IigError as e:
        print(f"lpc-iig: {args.definition}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
