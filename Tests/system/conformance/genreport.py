"""ISC's DNS compliance tester `genreport` (the tool behind ednscomp) as a test
oracle: built once from ../shared/vendor/dns-compliance-testing.tar.gz into
.build/genreport/<tarball digest>/ (never copied into the repository), run
against one server, its report line parsed.

genreport reads "ZONE NSNAME ADDRESS" lines on stdin and, for each, sends its
selected tests to ADDRESS and prints one line:

    ZONE. @ADDRESS (NSNAME.): NAME=RESULT NAME=RESULT ...

RESULT is a comma-separated list of tags. A test passed when the first tag is
`ok`; tags after it are information (`nsid`, `expire`, `cookie`, `subnet`:
the server returned that EDNS option). genreport's own "-B" (print only bad
tests) uses the same rule. Anything else names what was wrong: an RCODE that
was not expected (`formerr`, `notimp`, `refused`, `badvers` ...), a flag set
in the response that should not be (`aa`, `rd`, `ra`, `ad`, `cd`, `z`,
`mbz` for EDNS flags), one missing (`noaa`, `nord`, `nodo`, `nocd`), a
missing or unexpected OPT (`noopt`, `opt`), an SOA missing or unexpected in
the answer (`nosoa`, `soa`), an unknown EDNS option echoed (`echoed`), a
non-zero EDNS version (`version-not-zero`, `badversion`), a UDP answer larger
than the advertised size (`toobig`), `non-empty-*-section` for a non-QUERY
opcode, `malformed`, `mismatch` (question not echoed), `timeout` (no answer
to 3 UDP sends 1 s apart), `reset`, `connection-refused`, `failed` (TCP) and
`skipped` (not run). Error lines ("ZONE. NSNAME: TEXT") come instead when
genreport cannot test the server at all.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers import ROOT

def _tarball() -> Path:
    """../shared/vendor beside the checkout; a clone elsewhere (CI's fresh
    clone) finds it through DNSBOX_VENDOR or the workplace's /work/shared."""
    name = "dns-compliance-testing.tar.gz"
    for d in [os.environ.get("DNSBOX_VENDOR"), ROOT.parent / "shared" / "vendor", "/work/shared/vendor"]:
        if d and (Path(d) / name).exists():
            return Path(d) / name
    return ROOT.parent / "shared" / "vendor" / name


TARBALL = _tarball()
CACHE = ROOT / ".build" / "genreport"
BUILD_TOOLS = ["autoreconf", "aclocal", "automake", "libtoolize", "pkg-config", "gcc", "make", "tar"]


def build() -> Path:
    """The genreport binary, built from TARBALL on first use and cached under
    .build/genreport/ by the tarball's digest (a new tarball builds anew).
    Skips when the tarball or a build tool is missing."""
    if not TARBALL.is_file():
        pytest.skip(f"{TARBALL} is missing (ISC's genreport sources; see ../shared/vendor/README.md)")
    digest = hashlib.sha256(TARBALL.read_bytes()).hexdigest()[:16]
    binary = CACHE / digest / "genreport"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    missing = [t for t in BUILD_TOOLS if not shutil.which(t)]
    if not missing and subprocess.run(["pkg-config", "--exists", "libssl", "libcrypto"]).returncode != 0:
        missing.append("libssl-dev")
    if missing:
        pytest.skip(f"cannot build genreport: {', '.join(missing)} not installed (scripts/setup.sh installs them)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest may be building the same
        if binary.is_file():
            return binary
        work = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
        try:
            subprocess.run(["tar", "-xzf", str(TARBALL), "-C", str(work)], check=True)
            src = work / "genreport"
            log = work / "build.log"
            with open(log, "w") as out:
                for cmd in (["autoreconf", "-fi"], ["./configure"],
                            ["make", "LIBS=-lssl -lcrypto -lresolv"]):
                    r = subprocess.run(cmd, cwd=src, stdout=out, stderr=subprocess.STDOUT, timeout=600)
                    if r.returncode != 0:
                        pytest.fail(f"building genreport: {' '.join(cmd)} exited {r.returncode}:\n"
                                    f"{log.read_text(errors='replace')[-3000:]}", pytrace=False)
            (CACHE / digest).mkdir(exist_ok=True)
            os.replace(src / "genreport", binary)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return binary


def tests_of(binary: Path, *groups: str) -> list[str]:
    """The test names genreport runs for `groups` (EDNS, FULL, COMM, TYPE),
    in its order, as `genreport -L` lists them."""
    r = subprocess.run([str(binary), "-L"], capture_output=True, text=True, timeout=10, check=True)
    names = []
    for line in r.stdout.splitlines():
        name, *tags = line.split()
        if set(tags) & set(groups):
            names.append(name)
    return names


def run(binary: Path, port: int, zone: str, ns: str, address: str, *flags: str,
        timeout: float = 180) -> tuple[str, str]:
    """Runs `genreport -P PORT FLAGS` on "ZONE NS ADDRESS"; returns (command
    line, stdout)."""
    argv = [str(binary), "-P", str(port), *flags]
    r = subprocess.run(argv, input=f"{zone} {ns} {address}\n", capture_output=True, text=True,
                       timeout=timeout)
    cmd = f'echo "{zone} {ns} {address}" | genreport -P {port} {" ".join(flags)}'
    assert r.returncode == 0, f"{cmd} exited {r.returncode}: {r.stdout}{r.stderr}"
    return cmd, r.stdout


def report(out: str, zone: str, ns: str, address: str) -> tuple[str, dict[str, str]]:
    """The report line for (zone, ns, address) in genreport's output and its
    fields, {test name: result}, in order."""
    head = f"{zone.rstrip('.')}. @{address} ({ns.rstrip('.')}.):"
    lines = [line for line in out.splitlines() if line.startswith(head)]
    assert len(lines) == 1, f"expected one report line starting {head!r}, got:\n{out}"
    fields = {}
    for word in lines[0][len(head):].split():
        name, sep, value = word.partition("=")
        assert sep, f"unexpected word {word!r} in {lines[0]!r}"
        fields[name] = value
    return lines[0], fields


def passed(result: str) -> bool:
    return result.split(",")[0] == "ok"
