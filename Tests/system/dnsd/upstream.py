"""Helpers for dnsd as a caching forwarder: real upstreams (Knot) on loopback
or in network namespaces, a relay, dig and raw sockets as clients, and dnsd
started with forwarders.

Queries reaching an upstream are counted with Knot's mod-stats
(`knotc stats`, counter `mod-stats.server-operation[query]`; TCP separately in
`mod-stats.request-protocol[tcp4]`): every test has its own Knot, so the
difference of that counter around one client query is the number of queries
dnsd sent for it. Where the question itself or its EDNS must be seen, a small
relay (`Relay`) sits between dnsd and Knot and records every query (and can
delay answers, or swallow them to play a silent server).

The fixtures built on these (`knots`, `forwarding`) are in conftest.py.
"""
from __future__ import annotations

import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from helpers import free_port, need_tool, section as dig_section, wait_for

# ---- clients ----------------------------------------------------------------


class Reply:
    """dig's output, parsed."""

    def __init__(self, out: str):
        self.out = out
        m = re.search(r"status: (\w+)", out)
        self.status = m.group(1) if m else None
        m = re.search(r";; flags: ([^;]*);", out)
        self.flags = set(m.group(1).split()) if m else set()
        self.answer = self.section("ANSWER")
        self.authority = self.section("AUTHORITY")

    def section(self, name: str) -> list[str]:
        return dig_section(self.out, name)

    def ttls(self, sec: str = "answer") -> list[int]:
        return [int(rr.split()[1]) for rr in getattr(self, sec)]

    def data(self) -> list[str]:
        """The answer's records without their TTLs."""
        return [" ".join(rr.split()[:1] + rr.split()[2:]) for rr in self.answer]

    def __repr__(self):
        return self.out


def dig(port: int, *args: str, server: str = "127.0.0.1", ns: str | None = None, wait: int = 2) -> Reply:
    cmd = ["dig", f"@{server}", "-p", str(port), f"+time={wait}", "+tries=1", *args]
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return Reply(r.stdout + r.stderr)


def timed_dig(port: int, *args: str, **kw) -> tuple[Reply, float]:
    t0 = time.monotonic()
    r = dig(port, *args, **kw)
    return r, time.monotonic() - t0


def wire_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def wire_query(name: str, qtype: int = 1, qid: int = 0x4242, rd: bool = True, edns: int | None = 1232) -> bytes:
    flags = 0x0100 if rd else 0
    q = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0) + wire_name(name) + struct.pack("!HH", qtype, 1)
    if edns:
        q += b"\x00" + struct.pack("!HHIH", 41, edns, 0, 0)
    return q


def parse_question(msg: bytes) -> tuple[str, int, int | None]:
    """(qname, qtype, EDNS payload size or None) of a query with one question."""
    i, labels = 12, []
    while msg[i]:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode(errors="replace"))
        i += 1 + msg[i]
    i += 1
    qtype = struct.unpack("!H", msg[i:i + 2])[0]
    i += 4
    an, ns, ar = struct.unpack("!HHH", msg[6:12])
    payload = None
    if an == 0 and ns == 0 and ar >= 1 and i + 11 <= len(msg) and msg[i] == 0:
        rtype, rclass = struct.unpack("!HH", msg[i + 1:i + 5])
        if rtype == 41:
            payload = rclass
    return ".".join(labels).lower() + ".", qtype, payload


def udp_ask(port: int, msg: bytes, server: str = "127.0.0.1", timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, (server, port))
        try:
            while True:
                r, _ = s.recvfrom(65535)
                if r[:2] == msg[:2]:
                    return r
        except socket.timeout:
            return None


def rcode(msg: bytes) -> int:
    return msg[3] & 0x0F


def ancount(msg: bytes) -> int:
    return struct.unpack("!H", msg[6:8])[0]


def stop_process(p: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if p.poll() is None:
        p.send_signal(sig)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# ---- peers ------------------------------------------------------------------

SOA_NS = "@ 300 IN SOA ns1 hostmaster 1 3600 600 1209600 60\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.53\n"

KNOT_CONF = """server:
    rundir: "{dir}"
    listen: {addr}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{dir}"
log:
  - target: stderr
    any: info
mod-stats:
  - id: default
    request-protocol: on
    server-operation: on
    response-code: on
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    global-module: mod-stats
zone:
{zones}"""


class Knot:
    """knotd authoritative for the given zones on ADDR@PORT (optionally inside a
    network namespace). `queries()` counts every query it received."""

    def __init__(self, workdir: Path, zones: dict[str, str], port: int | None = None,
                 addr: str = "127.0.0.1", ns: str | None = None, name: str = "knot"):
        need_tool("knotd")
        need_tool("knotc")
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.addr, self.ns, self.name = addr, ns, name
        self.port = port or free_port(addr)
        self.zones = zones
        self.conf = self.dir / "knot.conf"
        self.proc: subprocess.Popen | None = None
        body = ""
        for zone, text in zones.items():
            (self.dir / f"{zone}.zone").write_text("$TTL 300\n" + SOA_NS + text)
            body += f"  - domain: {zone}\n    file: \"{self.dir / (zone + '.zone')}\"\n"
        self.conf.write_text(KNOT_CONF.format(dir=self.dir, addr=addr, port=self.port, zones=body))

    def start(self) -> "Knot":
        cmd = ["knotd", "-c", str(self.conf)]
        if self.ns:
            cmd = ["ip", "netns", "exec", self.ns, *cmd]
        (self.dir / "knot.pid").unlink(missing_ok=True)
        with open(self.dir / "knotd.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        first = next(iter(self.zones))
        wait_for(lambda: self.proc.poll() is not None or "aa" in dig(self.port, first, "SOA", "+norec",
                                                                         server=self.addr, ns=self.ns, wait=1).flags,
                 10, 0.05, f"{self.name} to serve {first}")
        assert self.proc.poll() is None, self.log()
        # The control socket answers too (the counters are read through it).
        wait_for(lambda: self.stats() is not None, 5, 0.05, f"{self.name} control socket")
        return self

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)

    def log(self) -> str:
        p = self.dir / "knotd.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def stats(self) -> dict[str, int] | None:
        r = subprocess.run(["knotc", "-c", str(self.conf), "-t", "2", "stats"], capture_output=True, text=True,
                           timeout=10)
        if r.returncode != 0:
            return None
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition(" = ")
            if v.strip().isdigit():
                out[k.strip()] = int(v)
        return out

    def queries(self) -> int:
        return self.stats().get("mod-stats.server-operation[query]", 0)

    def tcp_queries(self) -> int:
        return self.stats().get("mod-stats.request-protocol[tcp4]", 0)


class Relay:
    """A UDP relay in front of an upstream: records each query (qname, qtype,
    EDNS payload) and forwards it after `delay` seconds; with `silent` it
    answers nothing (an upstream that times out)."""

    def __init__(self, target_port: int | None, delay: float = 0.0, silent: bool = False):
        self.target, self.delay, self.silent = target_port, delay, silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple[str, int, int | None]] = []
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                try:
                    self.seen.append(parse_question(data))
                except (IndexError, struct.error):
                    self.seen.append(("?", 0, None))
            if not self.silent:
                t = threading.Timer(self.delay, self._relay, (data, addr))
                t.daemon = True
                t.start()

    def _relay(self, data: bytes, addr):
        r = udp_ask(self.target, data, timeout=2)
        if r is not None and not self.stopped:
            try:
                self.sock.sendto(r, addr)
            except OSError:
                pass

    def count(self, qname: str) -> int:
        with self.lock:
            return sum(1 for q in self.seen if q[0] == qname.lower().rstrip(".") + ".")

    def close(self):
        self.stopped = True
        self.thread.join(timeout=2)
        self.sock.close()


# ---- dnsd -------------------------------------------------------------------


def start_dnsd(dnsbox, *, listen: list[str] | None = None, forwarders=(), main_extra: str = "", rest: str = "",
               wrap: list[str] | None = None, port: int | None = None) -> int:
    """Writes the config, starts dnsd, waits until it answers its control
    socket; returns the (first) listening port."""
    port = port or free_port()
    listen = listen or [f"127.0.0.1:{port}"]
    if wrap:
        # `ctl` talks over a datagram socket whose reply address is abstract
        # (per network namespace): run it where dnsd runs.
        def ctl(applet: str, command: str, timeout: float = 5) -> subprocess.CompletedProcess:
            return subprocess.run([*wrap, *dnsbox.argv("ctl", "-c", str(dnsbox.config_path), applet, command)],
                                  capture_output=True, text=True, timeout=timeout, cwd=dnsbox.dir)
        dnsbox.ctl = ctl
    body = "config dnsd 'main'\n" + "".join(f"\tlist listen '{a}'\n" for a in listen)
    body += "\toption workers '1'\n"
    body += "".join(f"\tlist forwarder '{f}'\n" for f in forwarders)
    body += main_extra + rest
    dnsbox.write_config(body)
    dnsbox.proc = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd", wrap=wrap)
    dnsbox.wait_ready("dnsd")
    assert dnsbox.proc.poll() is None, dnsbox.log("dnsd")
    dnsbox.port = port
    return port


def counters(dnsbox) -> dict[str, int]:
    fields = dnsbox.status("dnsd").get("dnsd", {})
    return {k: int(v) for k, v in fields.items() if v.lstrip("-").isdigit()}


def local_zone(name: str, records: list[tuple[str, str, str]]) -> str:
    out = f"config zone\n\toption name '{name}'\n"
    for rname, rtype, value in records:
        out += (f"config record\n\toption zone '{name}'\n\toption name '{rname}'\n\toption type '{rtype}'\n"
                f"\toption value '{value}'\n")
    return out


def forward_zone(zone: str, servers: list[str], fallback_local: bool | None = None) -> str:
    out = f"config forward\n\toption zone '{zone}'\n" + "".join(f"\tlist server '{s}'\n" for s in servers)
    if fallback_local is not None:
        out += f"\toption fallback_local '{int(fallback_local)}'\n"
    return out


UP_ZONE = """www 300 IN A 192.0.2.1
short 2 IN A 192.0.2.2
a1 300 IN CNAME a2
a2 300 IN CNAME www
*.wild 300 IN A 192.0.2.9
"""
