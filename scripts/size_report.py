#!/usr/bin/env python3
"""Attributes the bytes of a statically linked dnsbox to its parts using the
lld link map: every input section placed in an allocated, file-backed output
section is charged to the part it came from: C shim and libraries by their
object; Swift by the module in each symbol's mangled name (with LTO all the
Swift is one object; without it a module's object also holds copies of
what it inlined). Swift standard library code (the runtime and the
specializations of its generics: Array, String, Dictionary…) is "Swift
stdlib", and the machine outliner's shared sequences "Swift outlined".

Then the budget view: each applet's own modules (its applet module and the
protocol engines only it uses), the shared layers, and the libraries.

    scripts/size_report.py ARCH BINARY MAPFILE
"""
import os
import re
import sys

ALLOC = (".text", ".rodata", ".data", ".data.rel.ro", ".init_array", ".fini_array",
         ".eh_frame", ".eh_frame_hdr", ".gcc_except_table", ".tdata", ".got", ".got.plt",
         ".init", ".fini", ".swift5_", ".rela")
LINE = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+(\S.*)$")
LIBS = {"libsqlite3.a": "sqlite", "libc.a": "musl libc",
        "libswiftUnicodeDataTables.a": "Swift unicode tables"}

# The budget view: what each applet costs on its own, and what they share.
# A protocol engine used by one applet only is that applet's.
GROUPS = [
    ("dnsd", ["Dnsd", "Authority", "Resolver", "Zone"]),
    ("dhcpd (DHCPv4)", ["Dhcpd", "DHCP"]),
    ("apictl", ["Apictl", "API", "HTTP"]),
    ("init", ["Init"]),
    ("commands + applet table", ["Commands", "Applets", "dnsbox"]),
    ("shared: service host (Daemon, Runtime, Sys, Core, CShim)", ["Daemon", "Runtime", "Sys", "Core", "CShim (C)"]),
    ("shared: config, store, DNS wire", ["Config", "Store", "DNS"]),
    ("shared: Swift stdlib, outlined code, unicode tables", ["Swift stdlib", "Swift outlined", "Swift unicode tables",
                                                              "Swift (LTO, unnamed)"]),
    ("libraries: sqlite, musl, compiler-rt", ["sqlite", "musl libc", "libzigc.a", "libcompiler_rt.a", "crt1"]),
]


def swift_part(section: str, module: str) -> str:
    """The part a Swift section belongs to, from its symbol's mangled name:
    Embedded symbols are `$e` + the entity's mangling, which starts with its
    module (`3DNS…`) for our code and with `s` (module Swift) or a standard
    substitution (`Sa` Array, `SS` String …) for the standard library,
    specializations of its generics included. `module`: the object's, for
    what has no such name (data, outlined code without LTO)."""
    name = section.split(".", 2)[-1] if section.count(".") >= 2 else section
    if name.startswith("OUTLINED_FUNCTION"):
        return "Swift outlined"
    if name.startswith(("swift_", "_swift_")):
        return "Swift stdlib"
    m = re.match(r"_?\$e(\d+)", name)
    if m:
        n = int(m.group(1))
        start = len(m.group(0))
        return name[start:start + n]
    if re.match(r"_?\$e[sS]", name):
        return "Swift stdlib"
    return module


def part_of(path: str) -> str:
    m = re.search(r"([^/]+\.a)\(([^)]+)\)", path)
    if m:
        return LIBS.get(m.group(1), m.group(1))
    if path.startswith("<internal>"):
        return "linker-merged (constants, eh_frame)"
    obj, _, section = path.partition(":(")
    section = section.rstrip(")")
    if obj.endswith(".lto.o"):
        return swift_part(section, "Swift (LTO, unnamed)")
    base = os.path.basename(obj)
    if base.endswith(".o"):
        name = base[:-2]
        if "/shim/" in obj:
            return "CShim (C)"
        if name[0].isupper() or name == "dnsbox":
            return swift_part(section, name)
        return name
    return "other"


def main() -> int:
    arch, binary, mapfile = sys.argv[1:4]
    total = os.path.getsize(binary)
    shares: dict[str, int] = {}
    out_section = ""
    for line in open(mapfile, errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        size = int(m.group(1), 16)
        what = m.group(2)
        if not what.startswith("/") and ":(" not in what and "(" not in what.split()[0]:
            if what.startswith("."):
                out_section = what.split()[0]
            continue
        if ":(" not in what or size == 0:
            continue
        if not out_section.startswith(ALLOC) or out_section.startswith(".bss"):
            continue
        p = part_of(what)
        shares[p] = shares.get(p, 0) + size
    counted = sum(shares.values())
    print(f"{arch}: out/{arch}/dnsbox {total} bytes ({total / 1024:.0f} KiB), stripped")
    for name, size in sorted(shares.items(), key=lambda kv: -kv[1]):
        label = name if " " in name or name[0].islower() else "Swift " + name
        print(f"  {label:<36} {size:>9} bytes  {100.0 * size / counted:5.1f}%")
    print(f"  {'(headers, alignment)':<36} {max(total - counted, 0):>9} bytes")
    print(f"{arch}: by applet (its own modules) and shared layers")
    seen = set()
    for label, members in GROUPS:
        n = sum(shares.get(m, 0) for m in members)
        seen.update(members)
        print(f"  {label:<58} {n:>9} bytes  {n / 1024:7.1f} KiB")
    rest = sum(v for k, v in shares.items() if k not in seen) + max(total - counted, 0)
    print(f"  {'linker-merged constants, headers, other':<58} {rest:>9} bytes  {rest / 1024:7.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
