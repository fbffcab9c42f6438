"""Plain helpers for the dnsbox system tests, importable from every area
(`from helpers import ...`; Tests/system is on sys.path through pytest.ini).
Fixtures built on them are in conftest.py beside this file.

The binary under test is $DNSBOX_BIN (default: the host build). For a firmware
binary of another architecture set DNSBOX_EXEC_PREFIX (e.g.
"qemu-aarch64-static"); tests that need init to re-exec itself skip there.
"""
from __future__ import annotations

import itertools
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPLETS = ["dnsd", "dhcpd", "rad", "mdnsd", "bgpd", "apictl", "init"]


def dnsbox_path() -> Path:
    return Path(os.environ.get("DNSBOX_BIN", ROOT / ".build" / "debug" / "dnsbox")).resolve()


def exec_prefix() -> list[str]:
    return shlex.split(os.environ.get("DNSBOX_EXEC_PREFIX", ""))


def is_root() -> bool:
    return os.geteuid() == 0


def need_root() -> None:
    if not is_root():
        pytest.skip("needs root (network namespaces, PID namespaces or capabilities)")


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed (scripts/setup.sh installs it)")
    return path


def free_port(*addrs: str) -> int:
    """A port free for both UDP and TCP on every one of `addrs` (default 127.0.0.1)."""
    addrs = addrs or ("127.0.0.1",)
    for _ in range(100):
        family = socket.AF_INET6 if ":" in addrs[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.bind((addrs[0], 0))
            port = u.getsockname()[1]
            try:
                for addr in addrs:
                    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
                    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                        if addr == addrs[0] and kind == socket.SOCK_DGRAM:
                            continue
                        with socket.socket(fam, kind) as t:
                            t.bind((addr, port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def wait_for(pred, timeout: float = 5.0, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Dnsbox:
    """Runs dnsbox commands and applets for one test, in its own directory."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary = binary
        self.dir = workdir
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        self.rundir = workdir / "run"
        self.database = workdir / "state" / "dnsbox.db"
        self.config_path = workdir / "dnsbox.conf"

    def argv(self, *args: str, argv0: str | None = None) -> list[str]:
        prefix = exec_prefix()
        if argv0:
            # Dispatch by name: a symlink named like the applet.
            link = self.dir / "bin" / argv0
            link.parent.mkdir(exist_ok=True)
            if not link.exists():
                link.symlink_to(self.binary)
            return [*prefix, str(link), *args]
        return [*prefix, str(self.binary), *args]

    def write_config(self, body: str, path: Path | None = None) -> Path:
        path = path or self.config_path
        head = (
            "config dnsbox 'main'\n"
            f"\toption database '{self.database}'\n"
            f"\toption rundir '{self.rundir}'\n"
            "\toption log_level 'debug'\n"
        )
        path.write_text(head + body)
        return path

    def run(self, *args: str, argv0: str | None = None, input: str | None = None,
            env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
        e = dict(os.environ)
        e.pop("DNSBOX_CONFIG", None)
        if env:
            e.update(env)
        return subprocess.run(self.argv(*args, argv0=argv0), input=input, capture_output=True,
                              text=True, timeout=timeout, env=e, cwd=self.dir)

    def start(self, *args: str, argv0: str | None = None, name: str = "dnsbox",
              env: dict | None = None, wrap: list[str] | None = None) -> subprocess.Popen:
        log = self.dir / f"{name}.log"
        e = dict(os.environ)
        e.pop("DNSBOX_CONFIG", None)
        if env:
            e.update(env)
        f = open(log, "ab")
        p = subprocess.Popen([*(wrap or []), *self.argv(*args, argv0=argv0)], stdout=f, stderr=subprocess.STDOUT,
                             env=e, cwd=self.dir)
        f.close()
        self.procs.append((p, log))
        return p

    def log(self, name: str = "dnsbox") -> str:
        p = self.dir / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def ctl(self, applet: str, command: str, timeout: float = 5) -> subprocess.CompletedProcess:
        return self.run("ctl", "-c", str(self.config_path), applet, command, timeout=timeout)

    def wait_ready(self, applet: str, timeout: float = 10) -> None:
        wait_for(lambda: self.ctl(applet, "ping").stdout.strip() == "pong", timeout, 0.05,
                 f"{applet} control socket to answer ping")

    def status(self, applet: str) -> dict[str, dict[str, str]]:
        """Parses `ctl APPLET status` lines of key=value pairs, keyed by applet name."""
        r = self.ctl(applet, "status")
        out: dict[str, dict[str, str]] = {}
        for line in r.stdout.splitlines():
            words = shlex.split(line)
            head = words[0] if words and "=" not in words[0] else None
            fields = dict(w.split("=", 1) for w in words if "=" in w)
            key = fields.get("applet") or head or "?"
            out[key] = fields
        return out

    def stop_all(self) -> None:
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ---- network namespaces ----------------------------------------------------

_ns_counter = itertools.count()


class Netns:
    """Namespaces joined by veth pairs; everything is removed at teardown."""

    def __init__(self):
        self.names: list[str] = []

    def add(self, tag: str) -> str:
        name = f"dnsbox-t{os.getpid()}-{next(_ns_counter)}-{tag}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.names.append(name)
        self.exec(name, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
        self.exec(name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
        self.exec(name, "ip", "link", "set", "lo", "up")
        return name

    def link(self, a: str, a_if: str, a_addr: str | None, b: str, b_if: str, b_addr: str | None) -> None:
        """A veth pair created straight into both namespaces, addressed and up."""
        subprocess.run(["ip", "link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b],
                       check=True)
        for ns, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            if addr:
                self.exec(ns, "ip", "addr", "add", addr, "dev", ifname)
            self.exec(ns, "ip", "link", "set", ifname, "up")
        for ns, ifname in ((a, a_if), (b, b_if)):
            wait_for(lambda: "state UP" in self.exec(ns, "ip", "link", "show", ifname).stdout
                     or "LOWER_UP" in self.exec(ns, "ip", "link", "show", ifname).stdout,
                     5, 0.05, f"{ifname} up in {ns}")

    def exec(self, ns: str, *cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                              check=check, timeout=timeout)

    def cleanup(self) -> None:
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "pids", name], capture_output=True)
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


# ---- dig output ------------------------------------------------------------


def section(out: str, name: str) -> list[str]:
    """The records of one section (ANSWER, AUTHORITY, ADDITIONAL) of dig's
    output, whitespace collapsed."""
    lines, on = [], False
    for line in out.splitlines():
        if line.startswith(f";; {name} SECTION"):
            on = True
            continue
        if on:
            if not line.strip():
                break
            lines.append(" ".join(line.split()))
    return lines
