"""dnsd as a caching forwarder: real upstreams (Knot) on loopback or in network
namespaces; dig and raw sockets as clients.

Queries reaching an upstream are counted with Knot's mod-stats
(`knotc stats`, counter `mod-stats.server-operation[query]`; TCP separately in
`mod-stats.request-protocol[tcp4]`): every test has its own Knot, so the
difference of that counter around one client query is the number of queries
dnsd sent for it. Where the question itself or its EDNS must be seen, a small
relay in this file (`Relay`) sits between dnsd and Knot and records every query
(and can delay answers, or swallow them to play a silent server).
"""
from __future__ import annotations

import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import section as dig_section
from helpers import exec_prefix, free_port, need_root, need_tool, wait_for

# ---- helpers ----------------------------------------------------------------


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


@pytest.fixture
def knots(tmp_path):
    """Starts Knot peers for a test; all are stopped at teardown."""
    started: list[Knot] = []

    def make(zones: dict[str, str], **kw) -> Knot:
        k = Knot(tmp_path, zones, name=kw.pop("name", f"knot{len(started)}"), **kw)
        started.append(k)
        return k.start()

    yield make
    for k in started:
        k.stop()


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


@pytest.fixture(scope="module")
def forwarding(dnsbox_bin):
    """Skips when the dnsd under test has no forwarding yet."""
    need_tool("dig")
    r = subprocess.run([*exec_prefix(), str(dnsbox_bin), "--help", "dnsd"], capture_output=True, text=True,
                       timeout=30)
    if "forwarder" not in r.stdout + r.stderr:
        pytest.skip("this dnsd has no forwarder option (forwarding not built in)")


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


# ---- the peers on their own ----------------------------------------------


def test_knot_peer_serves_and_counts_every_query(knots):
    """The upstream fixture itself: answers authoritatively (aa, no ra), and
    mod-stats counts each UDP and TCP query exactly once."""
    up = knots({"up.test": UP_ZONE})
    q0, t0 = up.queries(), up.tcp_queries()
    r = dig(up.port, "www.up.test", "A")
    assert r.status == "NOERROR" and "aa" in r.flags and "ra" not in r.flags
    assert r.answer == ["www.up.test. 300 IN A 192.0.2.1"]
    assert up.queries() == q0 + 1
    assert dig(up.port, "a1.up.test").answer == ["a1.up.test. 300 IN CNAME a2.up.test.",
                                                 "a2.up.test. 300 IN CNAME www.up.test.",
                                                 "www.up.test. 300 IN A 192.0.2.1"]
    assert dig(up.port, "nx.up.test").status == "NXDOMAIN"
    assert dig(up.port, "www.up.test", "+tcp").answer == ["www.up.test. 300 IN A 192.0.2.1"]
    assert up.queries() == q0 + 4 and up.tcp_queries() == t0 + 1
    relay = Relay(up.port)
    try:
        assert dig(relay.port, "www.up.test", "+bufsize=1232").answer == ["www.up.test. 300 IN A 192.0.2.1"]
        assert relay.seen == [("www.up.test.", 1, 1232)]
    finally:
        relay.close()


# ---- 1. passthrough and cache ---------------------------------------------


def test_forwarded_answers_are_cached_and_ttls_count_down(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"])
    q0 = up.queries()

    # Fresh answers: the upstream's AA and sections, RA added.
    r = dig(port, "www.up.test", "A")
    assert r.status == "NOERROR" and {"aa", "ra"} <= r.flags, r
    assert r.answer == ["www.up.test. 300 IN A 192.0.2.1"]
    assert up.queries() == q0 + 1
    r = dig(port, "a1.up.test", "A")
    assert r.status == "NOERROR" and "ra" in r.flags, r
    assert r.data() == ["a1.up.test. IN CNAME a2.up.test.", "a2.up.test. IN CNAME www.up.test.",
                        "www.up.test. IN A 192.0.2.1"]
    assert up.queries() == q0 + 2
    r = dig(port, "nx.up.test", "A")
    assert r.status == "NXDOMAIN" and "ra" in r.flags, r
    assert r.authority == ["up.test. 60 IN SOA ns1.up.test. hostmaster.up.test. 1 3600 600 1209600 60"]
    assert up.queries() == q0 + 3
    t_first = time.monotonic()

    time.sleep(2.0)
    # From the cache: AA=0, RA=1, TTLs counted down by ~2 s, nothing upstream.
    r = dig(port, "www.up.test", "A")
    elapsed = time.monotonic() - t_first
    assert r.status == "NOERROR" and "ra" in r.flags and "aa" not in r.flags, r
    assert r.data() == ["www.up.test. IN A 192.0.2.1"], r
    assert 300 - int(elapsed) - 1 <= r.ttls()[0] <= 300 - 2 + 1, (r.ttls(), elapsed)
    r = dig(port, "a1.up.test", "A")
    assert r.status == "NOERROR" and "aa" not in r.flags and "ra" in r.flags, r
    assert r.data() == ["a1.up.test. IN CNAME a2.up.test.", "a2.up.test. IN CNAME www.up.test.",
                        "www.up.test. IN A 192.0.2.1"], r
    assert all(296 <= t <= 299 for t in r.ttls()), r.ttls()
    r = dig(port, "nx.up.test", "A")
    assert r.status == "NXDOMAIN" and "aa" not in r.flags and "ra" in r.flags, r
    assert len(r.authority) == 1 and r.authority[0].startswith("up.test.") and " IN SOA ns1.up.test. " in r.authority[0]
    assert 56 <= r.ttls("authority")[0] <= 59, r.authority
    # NODATA is cached too.
    r = dig(port, "www.up.test", "MX")
    assert r.status == "NOERROR" and r.answer == [] and " IN SOA " in r.authority[0], r
    assert up.queries() == q0 + 4
    r = dig(port, "www.up.test", "MX")
    assert r.status == "NOERROR" and r.answer == [] and " IN SOA " in r.authority[0] and "aa" not in r.flags, r
    assert up.queries() == q0 + 4, "cache hits must not reach the upstream"

    c = counters(dnsbox)
    assert c["cache_hits"] >= 4 and c["cache_misses"] >= 4, c
    assert c["cache_entries"] >= 4 and c["upstream_queries"] >= 4, c
    assert c["upstream_failures"] == 0 and c["stale_answers"] == 0, c


# ---- 2. dead upstream: serve-stale, SERVFAIL, local zones unharmed ----------


@pytest.mark.parametrize("serve_stale", ["1d", "0"])
def test_dead_upstream_serves_stale_or_servfail_and_local_zones_stay_fast(forwarding, dnsbox, knots, serve_stale):
    up = knots({"up.test": UP_ZONE})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"],
                      main_extra=f"\toption serve_stale '{serve_stale}'\n",
                      rest=local_zone("home.lan", [("nas", "A", "192.168.1.10")]))
    assert dig(port, "short.up.test").answer == ["short.up.test. 2 IN A 192.0.2.2"]
    t_cached = time.monotonic()
    assert dig(port, "www.up.test").answer == ["www.up.test. 300 IN A 192.0.2.1"]

    up.stop()  # port closed: ICMP port unreachable on loopback
    time.sleep(max(0.0, t_cached + 3.2 - time.monotonic()))  # short.up.test has expired

    r, took = timed_dig(port, "short.up.test", wait=5)
    if serve_stale == "0":
        assert r.status == "SERVFAIL" and r.answer == [], r
    else:
        assert r.status == "NOERROR" and r.answer == ["short.up.test. 30 IN A 192.0.2.2"], r
    assert took < 3, f"took {took:.2f}s"
    # Still fresh in the cache: answered as usual.
    r = dig(port, "www.up.test")
    assert r.status == "NOERROR" and r.data() == ["www.up.test. IN A 192.0.2.1"] and 290 <= r.ttls()[0] < 300, r
    # Never cached: SERVFAIL, quickly.
    r, took = timed_dig(port, "a1.up.test", wait=5)
    assert r.status == "SERVFAIL", r
    assert took < 3, f"SERVFAIL took {took:.2f}s"

    c = counters(dnsbox)
    assert c["upstream_failures"] >= 1, c
    if serve_stale == "0":
        assert c["stale_answers"] == 0, c
        return
    assert c["stale_answers"] >= 1, c

    # ~200 uncached questions against the dead upstream in the background; the
    # local zone keeps answering every one of 500 queries promptly meanwhile.
    results: list[int | None] = []
    lock = threading.Lock()

    def flood(k: int):
        for i in range(50):
            r = udp_ask(port, wire_query(f"u{k}-{i}.up.test", qid=(k * 1000 + i) & 0xFFFF), timeout=4)
            with lock:
                results.append(None if r is None else rcode(r))

    threads = [threading.Thread(target=flood, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    local_ok, slow = 0, []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        for i in range(500):
            q = wire_query("nas.home.lan", qid=i)
            t0 = time.monotonic()
            s.sendto(q, ("127.0.0.1", port))
            try:
                while True:
                    rep, _ = s.recvfrom(4096)
                    if rep[:2] == q[:2]:
                        break
            except socket.timeout:
                continue
            dt = time.monotonic() - t0
            if dt > 0.2:
                slow.append(dt)
            if rcode(rep) == 0 and ancount(rep) == 1 and bytes([192, 168, 1, 10]) in rep:
                local_ok += 1
    for t in threads:
        t.join()
    assert local_ok == 500, f"{local_ok}/500 local answers"
    assert len(slow) <= 25, f"{len(slow)} local answers took over 200 ms: {sorted(slow)[-5:]}"
    assert len(results) == 200 and all(rc == 2 for rc in results), \
        f"uncached names with a dead upstream: {[rc for rc in results if rc != 2][:10]} (None = no answer)"

    # The upstream comes back on the same port: probed back within the backoff
    # (at most 8 s), and new names are forwarded again.
    up.start()
    probes = iter(range(1000))  # a new name each time: a failure may be cached for a while (RFC 9520)
    wait_for(lambda: dig(port, f"p{next(probes)}.wild.up.test").status == "NOERROR", 15, 0.3,
             "the upstream to be used again")
    r = dig(port, "a2.up.test")
    assert r.status == "NOERROR" and r.data() == ["a2.up.test. IN CNAME www.up.test.",
                                                  "www.up.test. IN A 192.0.2.1"], r


@pytest.mark.parametrize("dead", ["silent", "closed"])
def test_a_dead_first_server_is_skipped_and_the_next_one_answers(forwarding, dnsbox, knots, dead):
    """The first forwarder times out (silent) or refuses (closed port); the
    second answers. The failure is paid once at most: the dead server is then
    marked down (1 s back-off) and the next names go straight to Knot."""
    up = knots({"up.test": UP_ZONE})
    silent = Relay(None, silent=True)
    bad_port = silent.port if dead == "silent" else free_port()
    try:
        port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{bad_port}", f"127.0.0.1:{up.port}"],
                          main_extra="\toption upstream_timeout '500ms'\n")
        took = []
        for name in ("www.up.test", "a2.up.test", "x.wild.up.test", "y.wild.up.test", "z.wild.up.test"):
            r, t = timed_dig(port, name, wait=5)
            assert r.status == "NOERROR" and r.answer, r
            took.append(t)
        assert max(took) < (2.5 if dead == "silent" else 1.0), took
        assert sum(t >= 0.5 for t in took) <= 1, took
        assert len(silent.seen) <= 1, silent.seen
        assert counters(dnsbox)["upstream_failures"] == 0  # no question went unanswered
    finally:
        silent.close()


def test_ipv6_forwarder_address(forwarding, dnsbox, knots):
    try:
        free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    up = knots({"up.test": UP_ZONE}, addr="::1")
    port = start_dnsd(dnsbox, forwarders=[f"[::1]:{up.port}"])
    q0 = up.queries()
    r = dig(port, "www.up.test")
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    assert up.queries() == q0 + 1


def test_only_a_silent_upstream_gives_servfail_within_the_timeout(forwarding, dnsbox):
    silent = Relay(None, silent=True)
    try:
        port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{silent.port}"],
                          main_extra="\toption upstream_timeout '500ms'\n")
        r, took = timed_dig(port, "www.up.test", wait=5)
        assert r.status == "SERVFAIL", r
        assert took < 3, f"took {took:.2f}s"
        assert silent.count("www.up.test") >= 1
    finally:
        silent.close()


# ---- 3. per-zone forwarders --------------------------------------------------


def test_forward_zones_longest_suffix_wins_then_the_default_forwarder(forwarding, dnsbox, knots):
    x = knots({"lo": "other 300 IN A 10.1.0.1\nhost.g10 300 IN A 10.1.0.99\n"}, name="x")
    y = knots({"g10.lo": "host 300 IN A 10.2.0.1\n"}, name="y")
    z = knots({"lo": "other 300 IN A 10.9.9.9\n", "g10.lo": "host 300 IN A 10.9.9.9\n",
               "else.test": "www 300 IN A 10.3.0.1\n"}, name="z")
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{z.port}"],
                      rest=forward_zone("lo", [f"127.0.0.1:{x.port}"]) +
                      forward_zone("g10.lo", [f"127.0.0.1:{y.port}"]))

    def counts():
        return x.queries(), y.queries(), z.queries()

    base = counts()
    r = dig(port, "host.g10.lo")
    assert r.status == "NOERROR" and r.answer == ["host.g10.lo. 300 IN A 10.2.0.1"], r
    assert counts() == (base[0], base[1] + 1, base[2])
    r = dig(port, "other.lo")
    assert r.status == "NOERROR" and r.answer == ["other.lo. 300 IN A 10.1.0.1"], r
    assert counts() == (base[0] + 1, base[1] + 1, base[2])
    r = dig(port, "www.else.test")
    assert r.status == "NOERROR" and r.answer == ["www.else.test. 300 IN A 10.3.0.1"], r
    assert counts() == (base[0] + 1, base[1] + 1, base[2] + 1)
    # Cached per answer, whichever server gave it.
    assert dig(port, "host.g10.lo").data() == ["host.g10.lo. IN A 10.2.0.1"]
    assert dig(port, "other.lo").data() == ["other.lo. IN A 10.1.0.1"]
    assert counts() == (base[0] + 1, base[1] + 1, base[2] + 1)


def test_forward_zone_below_a_local_zone_and_refused_without_a_default(forwarding, dnsbox, knots):
    y = knots({"g10.lo": "host 300 IN A 10.2.0.1\n"}, name="y")
    port = start_dnsd(dnsbox, rest=local_zone("lo", [("other", "A", "10.5.5.5")]) +
                      forward_zone("g10.lo", [f"127.0.0.1:{y.port}"]))
    q0 = y.queries()
    r = dig(port, "host.g10.lo")
    assert r.status == "NOERROR" and r.answer == ["host.g10.lo. 300 IN A 10.2.0.1"], r
    assert y.queries() == q0 + 1
    r = dig(port, "other.lo")
    assert r.status == "NOERROR" and "aa" in r.flags and r.data() == ["other.lo. IN A 10.5.5.5"], r
    r = dig(port, "www.else.test")
    assert r.status == "REFUSED", r
    assert y.queries() == q0 + 1


# ---- 4. forward with fallback to the local copy ------------------------------


def fallback_setup(dnsbox, knots, fallback: bool | None):
    peer = knots({"g10.lo": "host 300 IN A 10.0.0.1\n"}, name="peer")
    port = start_dnsd(dnsbox, rest=local_zone("g10.lo", [("host", "A", "10.0.0.2")]) +
                      forward_zone("g10.lo", [f"127.0.0.1:{peer.port}"], fallback_local=fallback),
                      main_extra="\toption upstream_timeout '1000ms'\n")
    return peer, port


def test_forward_with_fallback_prefers_the_peer_and_falls_back_to_the_local_copy(forwarding, dnsbox, knots):
    peer, port = fallback_setup(dnsbox, knots, True)
    q0 = peer.queries()
    for i in range(2):  # forwarded each time: not cached
        r = dig(port, "host.g10.lo")
        assert r.status == "NOERROR" and r.answer == ["host.g10.lo. 300 IN A 10.0.0.1"], r
        assert "aa" in r.flags, r  # the peer's answer as it is
        assert peer.queries() == q0 + i + 1, "a fallback zone's answers must not be cached"

    peer.stop()
    r, took = timed_dig(port, "host.g10.lo", wait=5)
    assert r.status == "NOERROR" and r.data() == ["host.g10.lo. IN A 10.0.0.2"], r
    assert "aa" not in r.flags, r
    assert took < 3, f"fallback took {took:.2f}s"
    r = dig(port, "host.g10.lo")
    assert r.data() == ["host.g10.lo. IN A 10.0.0.2"] and "aa" not in r.flags, r
    assert counters(dnsbox)["fallback_answers"] >= 2

    peer.start()  # same port
    wait_for(lambda: dig(port, "host.g10.lo").answer == ["host.g10.lo. 300 IN A 10.0.0.1"], 20, 0.3,
             "the peer's answer again")
    r = dig(port, "host.g10.lo")
    assert r.answer == ["host.g10.lo. 300 IN A 10.0.0.1"] and "aa" in r.flags, r


@pytest.mark.parametrize("fallback", [None, False])
def test_local_zone_wins_over_a_forward_zone_without_fallback(forwarding, dnsbox, knots, fallback):
    peer, port = fallback_setup(dnsbox, knots, fallback)
    q0 = peer.queries()
    for _ in range(3):
        r = dig(port, "host.g10.lo")
        assert r.status == "NOERROR" and r.data() == ["host.g10.lo. IN A 10.0.0.2"], r
        assert "aa" in r.flags, r
    assert peer.queries() == q0, "a local zone without fallback_local must never be forwarded"
    peer.stop()
    r = dig(port, "host.g10.lo")
    assert r.data() == ["host.g10.lo. IN A 10.0.0.2"] and "aa" in r.flags, r


# ---- 5. allow_recursion from a namespace ------------------------------------


def recursion_setup(netns, dnsbox, knots, allow: list[str] | None):
    need_root()
    srv = netns.add("srv")
    cli = netns.add("cli")
    netns.link(srv, "veth-srv", "10.99.0.1/24", cli, "veth-cli", "10.99.0.2/24")
    # A client address outside the router's subnets, routed back through cli.
    netns.exec(cli, "ip", "addr", "add", "198.51.100.2/32", "dev", "veth-cli")
    netns.exec(srv, "ip", "route", "add", "198.51.100.2/32", "via", "10.99.0.2")
    up = knots({"up.test": UP_ZONE}, ns=srv, port=5300)
    main_extra = "".join(f"\tlist allow_recursion '{a}'\n" for a in (allow or []))
    start_dnsd(dnsbox, listen=["10.99.0.1:53", "127.0.0.1:53"], port=53, forwarders=[f"127.0.0.1:{up.port}"],
               main_extra=main_extra, rest=local_zone("home.lan", [("nas", "A", "192.168.1.10")]),
               wrap=["ip", "netns", "exec", srv])
    return srv, cli, up


def test_allow_recursion_refuses_forwarding_to_other_clients(forwarding, netns, dnsbox, knots):
    srv, cli, up = recursion_setup(netns, dnsbox, knots, ["127.0.0.0/8"])
    q0 = up.queries()
    r = dig(53, "www.up.test", server="10.99.0.1", ns=cli)
    assert r.status == "REFUSED", r
    r = dig(53, "nas.home.lan", server="10.99.0.1", ns=cli)
    assert r.status == "NOERROR" and "aa" in r.flags and r.answer == ["nas.home.lan. 3600 IN A 192.168.1.10"], r
    assert up.queries() == q0
    r = dig(53, "www.up.test", server="127.0.0.1", ns=srv)
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    assert up.queries() == q0 + 1
    # Cached now, but the cache is not for outsiders either (RD=0 as well).
    assert dig(53, "www.up.test", server="10.99.0.1", ns=cli).status == "REFUSED"
    assert dig(53, "www.up.test", "+norec", server="10.99.0.1", ns=cli).status == "REFUSED"
    assert counters(dnsbox)["recursion_refused"] >= 2


def test_allow_recursion_defaults_to_the_routers_own_subnets(forwarding, netns, dnsbox, knots):
    srv, cli, up = recursion_setup(netns, dnsbox, knots, None)
    r = dig(53, "www.up.test", server="10.99.0.1", ns=cli)
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    r = dig(53, "a1.up.test", server="127.0.0.1", ns=srv)
    assert r.status == "NOERROR" and len(r.answer) == 3, r
    # A source outside every subnet of the router: refused, local zones still answer.
    r = dig(53, "www.up.test", "-b", "198.51.100.2", server="10.99.0.1", ns=cli)
    assert r.status == "REFUSED", r
    r = dig(53, "nas.home.lan", "-b", "198.51.100.2", server="10.99.0.1", ns=cli)
    assert r.status == "NOERROR" and "aa" in r.flags, r


# ---- 6. truncation -------------------------------------------------------------

BIG_STRINGS = [f"s{i}-" + chr(97 + i) * 196 for i in range(10)]  # 10 strings of 200 characters
BIG_ZONE = "".join(f'big 300 IN TXT "{s}"\n' for s in BIG_STRINGS)


def test_truncated_upstream_answer_is_retried_over_tcp(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE + BIG_ZONE})
    # The peer truncates at 1232 itself.
    assert "tc" in dig(up.port, "big.up.test", "TXT", "+notcp", "+ignore", "+bufsize=1232").flags
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"])
    t0 = up.tcp_queries()
    r = dig(port, "big.up.test", "TXT", "+tcp")
    assert r.status == "NOERROR", r
    assert sorted(rr.split(" TXT ", 1)[1].strip('"') for rr in r.answer) == sorted(BIG_STRINGS), r
    assert up.tcp_queries() >= t0 + 1, "dnsd did not retry the truncated answer over TCP"
    r = dig(port, "big.up.test", "TXT", "+notcp", "+ignore", "+bufsize=1232")
    assert "tc" in r.flags and r.status == "NOERROR", r
    r = dig(port, "big.up.test", "TXT", "+notcp", "+ignore", "+noedns")
    assert "tc" in r.flags, r
    # Fresh over UDP first (a new dnsd cache): TC too, and TCP then gets it all.
    dnsbox.stop_all()
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"])
    r = dig(port, "big.up.test", "TXT", "+notcp", "+ignore", "+bufsize=512")
    assert "tc" in r.flags, r
    r = dig(port, "big.up.test", "TXT")  # dig retries over TCP on TC
    assert len(r.answer) == 10, r


# ---- 7. a flood of random names ----------------------------------------------


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_cache_is_bounded_under_a_flood_of_random_names(forwarding, dnsbox, knots):
    up = knots({"flood.test": "* 300 IN A 192.0.2.7\n"})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"], main_extra="\toption cache_size '500'\n")
    for i in range(50):  # warm up: the first allocations are not growth
        assert udp_ask(port, wire_query(f"warm{i}.flood.test")) is not None
    rss0 = vm_rss_kb(dnsbox.proc.pid)

    total, window, answered, errors = 20000, 64, 0, 0
    rnd = random.Random(1)
    inflight: dict[int, float] = {}
    deadline = time.monotonic() + 60
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.settimeout(0.5)
        while (sent < total or inflight) and time.monotonic() < deadline:
            while sent < total and len(inflight) < window:
                qid = sent & 0xFFFF
                name = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
                s.sendto(wire_query(f"{name}.flood.test", qid=qid), ("127.0.0.1", port))
                inflight[qid] = time.monotonic()
                sent += 1
            try:
                rep, _ = s.recvfrom(4096)
            except socket.timeout:
                inflight.clear()  # lost ones: go on
                continue
            qid = struct.unpack("!H", rep[:2])[0]
            if inflight.pop(qid, None) is not None:
                answered += 1
                errors += rcode(rep) != 0
    assert sent == total, f"only {sent} sent in 60 s"
    assert answered >= total * 0.95, f"{answered}/{total} answered"
    assert errors == 0, f"{errors} answers were not NOERROR"
    c = counters(dnsbox)
    assert 50 <= c["cache_entries"] <= 500, c
    assert c["upstream_queries"] >= answered, c
    rss1 = vm_rss_kb(dnsbox.proc.pid)
    print(f"flood: {answered}/{total} answered, VmRSS {rss0} -> {rss1} kB, {c}")
    assert rss1 - rss0 < 30 * 1024, f"VmRSS grew from {rss0} kB to {rss1} kB"
    # Still serving, from the upstream and then the cache.
    q0 = up.queries()
    assert dig(port, "after.flood.test").answer == ["after.flood.test. 300 IN A 192.0.2.7"]
    assert dig(port, "after.flood.test").data() == ["after.flood.test. IN A 192.0.2.7"]
    assert up.queries() == q0 + 1


# ---- 8. RD=0 -----------------------------------------------------------------


def test_rd0_is_answered_from_the_cache_only(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE})
    port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{up.port}"],
                      rest=local_zone("home.lan", [("nas", "A", "192.168.1.10")]))
    q0 = up.queries()
    r = dig(port, "www.up.test", "+norec")
    assert r.status == "REFUSED", r
    assert up.queries() == q0, "an RD=0 query must not be forwarded"
    r = dig(port, "nas.home.lan", "+norec")
    assert r.status == "NOERROR" and "aa" in r.flags, r
    r = dig(port, "www.up.test")
    assert r.status == "NOERROR" and r.answer == ["www.up.test. 300 IN A 192.0.2.1"], r
    r = dig(port, "www.up.test", "+norec")
    assert r.status == "NOERROR" and r.data() == ["www.up.test. IN A 192.0.2.1"] and "aa" not in r.flags, r
    assert up.queries() == q0 + 1


# ---- coalescing and the query dnsd sends ------------------------------------


def test_identical_concurrent_questions_are_coalesced_and_sent_with_edns_1232(forwarding, dnsbox, knots):
    up = knots({"up.test": UP_ZONE})
    relay = Relay(up.port, delay=0.4)
    try:
        port = start_dnsd(dnsbox, forwarders=[f"127.0.0.1:{relay.port}"])
        replies: list[bytes | None] = [None] * 20

        def ask(i: int):
            replies[i] = udp_ask(port, wire_query("www.up.test", qid=0x1000 + i), timeout=3)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r is not None and rcode(r) == 0 and ancount(r) == 1 for r in replies), replies
        assert relay.count("www.up.test") == 1, relay.seen
        assert relay.seen[0] == ("www.up.test.", 1, 1232), relay.seen
        # Different questions are not merged.
        r = dig(port, "www.up.test", "AAAA")
        assert r.status == "NOERROR" and r.answer == [], r
        assert [q for q in relay.seen if q[0] == "www.up.test."] == [("www.up.test.", 1, 1232),
                                                                    ("www.up.test.", 28, 1232)]
    finally:
        relay.close()
