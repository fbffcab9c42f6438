#!/usr/bin/env python3
"""Attributes the bytes of a statically linked dnsbox to its parts using the
lld link map: every input section placed in an allocated, file-backed output
section is charged to the object (Swift module, C shim, library) it came from.
With LTO all the Swift is one object; its sections are charged to the module
in their symbol's mangled name."""
import os
import re
import sys

ALLOC = (".text", ".rodata", ".data", ".data.rel.ro", ".init_array", ".fini_array",
         ".eh_frame", ".eh_frame_hdr", ".gcc_except_table", ".tdata", ".got", ".got.plt",
         ".init", ".fini", ".swift5_", ".rela")
LINE = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+(\S.*)$")


def lto_part(section: str) -> str:
    """The Swift module a section of the LTO object (one object for all the
    Swift, function/data sections named after their symbol) belongs to, from
    the mangled name: $e<len><Module>…; $es…/$eS… are the stdlib."""
    name = section.split(".", 2)[-1] if section.count(".") >= 2 else section
    if name.startswith("OUTLINED_FUNCTION"):
        return "Swift outlined (LTO)"
    if name.startswith("swift_") or name.startswith("_swift"):
        return "Swift runtime"
    m = re.match(r"\$e(\d+)", name)
    if m:
        n = int(m.group(1))
        return "Swift " + name[len(m.group(0)):len(m.group(0)) + n]
    if name.startswith(("$es", "$eS")):
        return "Swift stdlib (specialized)"
    return "Swift (other)"


def part_of(path: str) -> str:
    if ".lto.o:(" in path:
        return lto_part(path.split(".lto.o:(", 1)[1].rstrip(")"))
    m = re.search(r"([^/]+\.a)\(([^)]+)\)", path)
    if m:
        lib = m.group(1)
        return {"libsqlite3.a": "sqlite", "libnl-3.a": "libnl", "libnl-route-3.a": "libnl-route",
                "libcap.a": "libcap", "libc.a": "musl libc", "libswiftUnicodeDataTables.a": "swift unicode tables",
                }.get(lib, lib)
    if path.startswith("<internal>"):
        return "linker-merged (constants, eh_frame)"
    base = os.path.basename(path.split(":(")[0])
    if base.endswith(".o"):
        name = base[:-2]
        if path.count("/shim/"):
            return "CShim (C)"
        return "Swift " + name if name[0].isupper() or name == "dnsbox" else name
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
        indent = len(line) - len(line.lstrip())
        if not what.startswith("/") and ":(" not in what and "(" not in what.split()[0]:
            if what.startswith("."):
                out_section = what.split()[0]
            continue
        if ":(" not in what or size == 0:
            continue
        if not out_section.startswith(ALLOC) or out_section.startswith(".bss"):
            continue
        shares[part_of(what)] = shares.get(part_of(what), 0) + size
    counted = sum(shares.values())
    print(f"{arch}: out/{arch}/dnsbox {total} bytes ({total / 1024:.0f} KiB), stripped")
    for name, size in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<36} {size:>9} bytes  {100.0 * size / counted:5.1f}%")
    print(f"  {'(headers, alignment)':<24} {max(total - counted, 0):>9} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
