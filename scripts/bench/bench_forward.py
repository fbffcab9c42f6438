#!/usr/bin/env python3
"""dnsbox dnsd as a caching forwarder against unbound and dnsmasq: server CPU
per cache hit, allocations per cache hit, throughput, latency, memory, and
the cache-miss path (stdlib only; the helpers come from bench.py).

Run through scripts/bench.sh (`make bench`, or BENCH_ONLY=forward), which
checks the tools first. One upstream, NSD on 127.0.0.1:BENCH_FORWARD_PORT
pinned to BENCH_UPSTREAM_CPU (default: dnsperf's CPU; it is idle while the
forwarders answer from their caches), serves `bench.`: 1,000 names
h0..h999 with one A record each, TTL 86400 (nothing expires during the
run), and a wildcard `*.miss.bench` A for the cache-miss queries.
Each forwarder runs alone on 127.0.0.1 (its own port), one thread, pinned to
BENCH_SERVER_CPU, caching enough for every name and forwarding everything to
the upstream: dnsbox (`option workers '1'`, `list forwarder`, `option
cache_size`), unbound (`num-threads: 1`, iterator only: no DNSSEC
validation, `forward-zone: "."`), dnsmasq (`--cache-size`, `--server`).
dnsperf is pinned to BENCH_CLIENT_CPU. Runs alternate between forwarders
(the first one rotates); each run starts the forwarder afresh.

Measurements, per forwarder and run:
  warm      every one of the 1,000 names asked once (dnsperf -n 1 at
            BENCH_WARM_QPS), then every one checked to answer NOERROR with
            an A record (by a UDP query from here)
  rss       VmRSS summed over the forwarder's processes, 0.5 s after warm-up
  cpu/hit   server CPU (utime+stime of every process of the server, from
            /proc/PID/stat) over a fixed offered load of cache hits
            (dnsperf -Q BENCH_QPS -l BENCH_SECONDS over the 1,000 names),
            divided by dnsperf's "Queries completed" (the JSON also has
            sched_us: the same from /proc/PID/task/*/schedstat, in ns). The
            upstream's CPU in the meantime shows that they were hits (~0).
  p50/p99   latency of that fixed-load run, from dnsperf -v; lost
  max qps   dnsperf unthrottled over the same names (-c BENCH_CLIENTS
            -q BENCH_OUTSTANDING -l BENCH_MAX_SECONDS); dnsperf on one core
            saturates before these servers do: a floor, not their limit.
            µs@max: CPU per hit in that run (the issue's "full load")
  miss      BENCH_MISS_QUERIES (cache size - names - 1,000: they fit in
            the cache, so no evictions) queries at BENCH_MISS_QPS for unique
            names under *.miss.bench (dnsperf -n 1: each asked once, so
            every one is a miss, forwarded to the upstream): server CPU per
            query from schedstat (ns; 1/100 s ticks are coarse for a few
            thousand queries), p50/p99. The same load straight to the
            upstream gives the `direct` row; +p50 = forwarder p50 - direct.
  allocs/hit, Ir/hit
            callgrind (BENCH_FWD_CALLGRIND): two runs, each warmed with the
            1,000 names; one then idles BENCH_CG_QUERIES/BENCH_CG_QPS
            seconds, the other answers BENCH_CG_QUERIES cache hits at
            BENCH_CG_QPS. (busy - idle) / answered, summed over every
            process: Ir, and calls to malloc/calloc/realloc/posix_memalign/
            aligned_alloc/memalign from outside the allocator itself.
"""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (same directory: its helpers and knobs)
from bench import (CLIENT_CPU, CLIENTS, CLK_TCK, DNSBOX, MAX_SECONDS, OUT,  # noqa: E402
                   OUTSTANDING, QPS, RUNS, SECONDS, SERVER_CPU, Server, children_cpu,
                   cpu_seconds, dnsperf, env_int, latency_percentiles, log,
                   machine_busy, med, memory_kib, probe_query)


NAMES = env_int("BENCH_FORWARD_NAMES", 1000)
CACHE = env_int("BENCH_CACHE_SIZE", 10000)
WARM_QPS = env_int("BENCH_WARM_QPS", 2000)
MISS_QPS = env_int("BENCH_MISS_QPS", 5000)
# Misses that fit in the cache next to the warmed names: a full cache would
# measure evictions too (dnsmasq's eviction of live entries more than doubles
# its CPU per miss and puts its p99 near 20 ms).
MISS_QUERIES = env_int("BENCH_MISS_QUERIES", max(1000, CACHE - NAMES - 1000))
UPSTREAM_CPU = env_int("BENCH_UPSTREAM_CPU", CLIENT_CPU)
PORT = env_int("BENCH_FORWARD_PORT", bench.BASE_PORT + 20)
FORWARDERS = [k for k in os.environ.get("BENCH_FORWARDERS", "dnsbox,unbound,dnsmasq").split(",") if k]
# Callgrind follows BENCH_CALLGRIND being switched off ('' or 0) unless told.
_cg_default = "" if os.environ.get("BENCH_CALLGRIND", "x") in ("", "0") else "dnsbox,unbound,dnsmasq"
CALLGRIND = [k for k in os.environ.get("BENCH_FWD_CALLGRIND", _cg_default).split(",") if k and k != "0"]
CG_QUERIES = bench.CG_QUERIES
CG_QPS = bench.CG_QPS
# Not bench.py's bench.test: resolvers answer NXDOMAIN for the special-use
# `test.` themselves (RFC 6761; unbound's default local zones do).
ORIGIN = os.environ.get("BENCH_FORWARD_ORIGIN", "bench")
MISS_ZONE = f"miss.{ORIGIN}"
# Allocator entry points (callgrind function names; the firmware's musl/zig
# libc also names them c.malloc.NAME).
ALLOC_FNS = {"malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
             "memalign", "valloc", "pvalloc", "__libc_malloc", "__libc_calloc", "__libc_realloc",
             "__libc_memalign", "__posix_memalign", "__libc_malloc_impl"}


def fmt(x, spec):
    """bench.fmt, but a missing value keeps the column's width."""
    return bench.fmt(x, spec).rjust(int(spec.split(".")[0] or 0))


# ---------------------------------------------------------------- servers

class Upstream(bench.NSD):
    """The one authoritative upstream, pinned apart from the forwarders.
    Minimal responses (no NS in authority, no glue): every forwarder caches
    and returns the same answer-only message."""
    name = "upstream-nsd"
    origin = ORIGIN
    server_options = "\tminimal-responses: yes\n"

    def argv(self, zone, d):
        return ["taskset", "-c", str(UPSTREAM_CPU)] + super().argv(zone, d)


class Forwarder(Server):
    authoritative = False

    def __init__(self, port, work, upstream_port):
        super().__init__(port, work)
        self.up = upstream_port

    def unavailable(self):
        """Why this forwarder cannot run here, or None."""
        return None


class DnsboxForwarder(Forwarder):
    name = "dnsbox"
    binary = DNSBOX

    def config(self, d):
        # Same dnsbox section as bench.py's: state and run directories of its own.
        return (
            "config dnsbox 'main'\n"
            f"\toption database '{d}/state/dnsbox.db'\n"
            f"\toption rundir '{d}/run'\n"
            "\toption log_level 'warn'\n"
            "config dnsd 'main'\n"
            f"\tlist listen '127.0.0.1:{self.port}'\n"
            "\toption workers '1'\n"
            f"\tlist forwarder '127.0.0.1:{self.up}'\n"
            "\tlist allow_recursion '127.0.0.0/8'\n"
            f"\toption cache_size '{CACHE}'\n"
        )

    def unavailable(self):
        if not DNSBOX.exists():
            return f"{DNSBOX} missing"
        d = Path(tempfile.mkdtemp(prefix="dnsbox-check-", dir=self.work))
        conf = d / "dnsbox.conf"
        conf.write_text(self.config(d))
        r = subprocess.run([str(DNSBOX), "check-config", "-q", "-c", str(conf)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            said = ((r.stderr or r.stdout).strip().splitlines() or ["?"])[-1]
            return f"this dnsbox does not take the forwarder configuration (check-config: {said})"
        return None

    def argv(self, zone, d):
        conf = d / "dnsbox.conf"
        conf.write_text(self.config(d))
        return [str(self.binary), "dnsd", "-c", str(conf)]


class Unbound(Forwarder):
    name = "unbound"

    def argv(self, zone, d):
        conf = d / "unbound.conf"
        conf.write_text(f"""server:
	interface: 127.0.0.1@{self.port}
	port: {self.port}
	do-ip6: no
	num-threads: 1
	so-reuseport: no
	chroot: ""
	username: ""
	directory: "{d}"
	use-syslog: no
	logfile: ""
	verbosity: 0
	log-queries: no
	log-replies: no
	statistics-interval: 0
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	qname-minimisation: no
	module-config: "iterator"
	msg-cache-size: 8m
	rrset-cache-size: 16m
	prefetch: no
remote-control:
	control-enable: no
forward-zone:
	name: "."
	forward-addr: 127.0.0.1@{self.up}
""")
        return [shutil.which("unbound") or "/usr/sbin/unbound", "-d", "-p", "-c", str(conf)]


class Dnsmasq(Forwarder):
    name = "dnsmasq"

    def argv(self, zone, d):
        return [shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground",
                "--conf-file=/dev/null", "--pid-file", "--no-resolv", "--no-hosts", "--no-poll",
                f"--server=127.0.0.1#{self.up}", f"--port={self.port}",
                "--listen-address=127.0.0.1", "--bind-interfaces", f"--cache-size={CACHE}",
                "--user=root", "--group=root", "--log-facility=-"]


KINDS = {"dnsbox": DnsboxForwarder, "unbound": Unbound, "dnsmasq": Dnsmasq}


# ---------------------------------------------------------------- files

def write_zone(path):
    lines = [f"$ORIGIN {ORIGIN}.", "$TTL 86400",
             "@ IN SOA ns1 hostmaster 2024010101 3600 600 1209600 86400",
             "@ IN NS ns1", "ns1 IN A 192.0.2.53", "*.miss IN A 192.0.2.1"]
    for i in range(NAMES):
        lines.append(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
    path.write_text("\n".join(lines) + "\n")
    return [f"h{i}.{ORIGIN}" for i in range(NAMES)]


def write_hits(path, names, count=None):
    """The names in a fixed shuffled order (dnsperf cycles through them)."""
    order = list(names)
    random.Random(53).shuffle(order)
    if count:
        order = [order[i % len(order)] for i in range(count)]
    path.write_text("".join(f"{n} A\n" for n in order))


def write_misses(path, count, tag):
    """`count` unique names under the wildcard; `tag` keeps files apart."""
    rnd = random.Random(f"{tag}-{time.time_ns()}")
    path.write_text("".join(f"m{i}-{rnd.randrange(1 << 40):x}.{tag}.{MISS_ZONE} A\n"
                            for i in range(count)))


# ---------------------------------------------------------------- DNS checks

def ask(sock, name, qid):
    """(rcode, answer count, response bytes) or None on timeout."""
    sock.send(probe_query(qid, name, rd=True))
    deadline = time.monotonic() + sock.gettimeout()
    while time.monotonic() < deadline:
        try:
            r = sock.recv(4096)
        except (socket.timeout, ConnectionRefusedError):
            return None
        if len(r) >= 12:
            rid, flags, _, an = struct.unpack(">HHHH", r[:8])
            if rid == qid and flags & 0x8000:
                return flags & 0x000F, an, len(r)
    return None


def check_names(port, names, timeout=1.0):
    """Asks every name once (twice if the first try fails); returns
    (names answering NOERROR with an answer, response bytes of the first).
    Gives up after 10 names in a row without an answer."""
    ok, size, bad = 0, None, 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        s.settimeout(timeout)
        for i, n in enumerate(names):
            for attempt in range(2):
                r = ask(s, n, (i * 2 + attempt) & 0xFFFF)
                if r and r[0] == 0 and r[1] > 0:
                    ok, bad = ok + 1, 0
                    size = size or r[2]
                    break
            else:
                bad += 1
                if bad >= 10:
                    break
    return ok, size


def warm(srv, hits, names, row):
    t0 = time.monotonic()
    w = dnsperf(srv.port, hits, ["-n", "1", "-Q", str(WARM_QPS), "-t", "5"])
    ok, size = check_names(srv.port, names)
    row.update(warm_s=time.monotonic() - t0, warm_ok=ok, response_bytes=size)
    if ok < len(names):
        raise RuntimeError(f"{len(names) - ok} of {len(names)} names unanswered after warm-up "
                           f"(dnsperf: {w['completed']} of {w['sent']} completed)")


# ---------------------------------------------------------------- phases

def sys_seconds(pids):
    """stime (kernel CPU) in seconds, summed over `pids` (/proc/PID/stat)."""
    ticks = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            ticks += int(st[st.rindex(")") + 2:].split()[12])
        except (OSError, ValueError):
            pass
    return ticks / CLK_TCK


def alive(srv, phase):
    if srv.proc is None or srv.proc.poll() is not None:
        raise RuntimeError(f"exited ({srv.proc and srv.proc.returncode}) during {phase}")


def fixed_load(srv, port, qfile, args, upstream):
    """Runs dnsperf with -v; returns dnsperf stats plus the server's and the
    upstream's CPU, p50/p99 and other work on the machine meanwhile."""
    vfile = srv.work / f"{srv.name}-verbose.txt"
    pids = srv.pids()
    up = upstream.pids() if upstream is not None and upstream is not srv else []
    c0, n0 = cpu_seconds(pids)
    s0 = sys_seconds(pids)
    u0, _ = cpu_seconds(up)
    m0, k0 = machine_busy(), children_cpu()
    t0 = time.monotonic()
    r = dnsperf(port, qfile, args, verbose_to=vfile)
    wall = time.monotonic() - t0
    c1, n1 = cpu_seconds(pids)
    s1 = sys_seconds(pids)
    u1, _ = cpu_seconds(up)
    m1, k1 = machine_busy(), children_cpu()
    p50, p99 = latency_percentiles(vfile)
    vfile.unlink()
    done = max(r["completed"] or 0, 1)
    r.update(cpu_us=(c1 - c0) / done * 1e6, sched_us=(n1 - n0) / done * 1e6,
             sys_us=(s1 - s0) / done * 1e6,
             upstream_cpu_ms=(u1 - u0) * 1e3,
             p50_ms=p50 * 1e3 if p50 is not None else None,
             p99_ms=p99 * 1e3 if p99 is not None else None,
             other_cpu_pct=max(0.0, (m1 - m0) - (c1 - c0) - (u1 - u0) - (k1 - k0)) / max(wall, 1e-3) * 100)
    return r


def run_forwarder(srv, zone, hits, names, upstream, run, res):
    """One run of one forwarder; appends to `res` only when all of it worked."""
    row = {"start": srv.start(zone, names[0], timeout=30)}
    warm(srv, hits, names, row)
    time.sleep(0.5)
    row["rss"], row["pss"] = memory_kib(srv.pids())
    # (a) cache hits at a fixed offered load.
    a = fixed_load(srv, srv.port, hits, ["-Q", str(QPS), "-l", str(SECONDS)], upstream)
    alive(srv, "the cache-hit run")
    row.update({k: a[k] for k in ("cpu_us", "sched_us", "sys_us", "p50_ms", "p99_ms", "upstream_cpu_ms",
                                  "other_cpu_pct")}, fixed_qps=a["qps"], fixed_lost=a["lost"])
    if a["upstream_cpu_ms"] > 20 + SECONDS:  # NSD idles at well under 1 ms/s
        log(f"warning: {srv.name}: the upstream used {a['upstream_cpu_ms']:.0f} ms of CPU during "
            "the cache-hit run: not every query was a hit")
    # (b) cache hits, unthrottled (CPU per hit too: the issue's "full load" figure).
    c0, _ = cpu_seconds(srv.pids())
    b = dnsperf(srv.port, hits, ["-l", str(MAX_SECONDS), "-c", str(CLIENTS), "-q", str(OUTSTANDING)])
    c1, _ = cpu_seconds(srv.pids())
    alive(srv, "the unthrottled run")
    row.update(max_qps=b["qps"], max_lost=b["lost"],
               max_cpu_us=(c1 - c0) / max(b["completed"] or 0, 1) * 1e6)
    # (c) cache misses: unique names, each forwarded to the upstream.
    mfile = srv.work / f"miss-{srv.name}.txt"
    write_misses(mfile, MISS_QUERIES, f"{srv.name}{run}")
    c = fixed_load(srv, srv.port, mfile, ["-n", "1", "-Q", str(MISS_QPS), "-t", "5"], upstream)
    mfile.unlink()
    alive(srv, "the cache-miss run")
    row.update(miss_cpu_us=c["cpu_us"], miss_sched_us=c["sched_us"], miss_p50_ms=c["p50_ms"],
               miss_p99_ms=c["p99_ms"], miss_lost=c["lost"],
               miss_upstream_cpu_us=c["upstream_cpu_ms"] * 1e3 / max(c["completed"] or 0, 1))
    row["rss_after"], _ = memory_kib(srv.pids())
    srv.stop()
    for k, v in row.items():
        res.setdefault(k, []).append(v)
    log(f"{srv.name}: hits {a['cpu_us']:.2f} µs/q at {a['qps']:.0f} qps (lost {a['lost']}), "
        f"p99 {fmt(a['p99_ms'], '.3f')} ms, upstream {a['upstream_cpu_ms']:.0f} ms CPU; "
        f"max {b['qps']:.0f} qps at {row['max_cpu_us']:.2f} µs/q (lost {b['lost']}); "
        f"misses {c['cpu_us']:.2f} µs/q, p50 {fmt(c['p50_ms'], '.3f')} ms, "
        f"p99 {fmt(c['p99_ms'], '.3f')} ms (lost {c['lost']}); rss {row['rss']} KiB; "
        f"other work {a['other_cpu_pct']:.0f}% of a CPU")


def run_direct(upstream, run, res):
    """The cache-miss load straight to the upstream: the latency baseline."""
    mfile = upstream.work / "miss-direct.txt"
    write_misses(mfile, MISS_QUERIES, f"direct{run}")
    c = fixed_load(upstream, upstream.port, mfile, ["-n", "1", "-Q", str(MISS_QPS), "-t", "5"],
                   None)
    mfile.unlink()
    res.setdefault("miss_cpu_us", []).append(c["cpu_us"])
    res.setdefault("miss_sched_us", []).append(c["sched_us"])
    res.setdefault("miss_p50_ms", []).append(c["p50_ms"])
    res.setdefault("miss_p99_ms", []).append(c["p99_ms"])
    res.setdefault("miss_lost", []).append(c["lost"])
    log(f"direct to the upstream: {c['cpu_us']:.2f} µs/q (upstream CPU), p50 "
        f"{fmt(c['p50_ms'], '.3f')} ms, p99 {fmt(c['p99_ms'], '.3f')} ms (lost {c['lost']})")


# ---------------------------------------------------------------- callgrind

def callgrind_totals(path):
    """(Ir, allocator calls from outside the allocator) of one callgrind.out."""
    names, total = {}, 0
    caller = callee = None
    allocs = 0

    def resolve(spec):
        # "(12) name" defines id 12, "(12)" refers to it, "name" is uncompressed.
        spec = spec.strip()
        if spec.startswith("("):
            i = spec.index(")")
            key, rest = spec[:i + 1], spec[i + 1:].strip()
            if rest:
                names[key] = rest
            return names.get(key, key)
        return spec

    def is_alloc(name):
        base = (name or "").split("'", 1)[0].split("@", 1)[0]
        return base in ALLOC_FNS or base.rsplit(".", 1)[-1] in ALLOC_FNS and base.startswith("c.malloc.")

    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                caller = resolve(line[3:])
            elif line.startswith("cfn="):
                callee = resolve(line[4:])
            elif line.startswith(("cfi=", "cfl=", "fi=", "fe=", "fl=")):
                pass
            elif line.startswith("calls="):
                if is_alloc(callee) and not is_alloc(caller):
                    allocs += int(line[6:].split()[0])
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    return total, allocs


def symbol_binary(work):
    """A copy of the dnsbox binary that callgrind can name functions in:
    without debug info (valgrind 3.19 gives up on Swift's DWARF 5) but with
    the symbol table. For the stripped firmware: its .unstripped twin, when
    its code and data are those of the binary under test."""
    out = work / "cg-bin" / "dnsbox"
    if out.exists():
        return out
    out.parent.mkdir(exist_ok=True)
    src = DNSBOX
    twin = DNSBOX.with_name(DNSBOX.name + ".unstripped")
    if twin.exists():
        def sections(f, to):
            r = subprocess.run(["objcopy", "-O", "binary", "-j", ".text", "-j", ".rodata",
                                "-j", ".data", str(f), str(to)], capture_output=True)
            return to.read_bytes() if r.returncode == 0 and to.exists() else None
        mine = sections(DNSBOX, out.parent / "a.bin")
        if mine is not None and mine == sections(twin, out.parent / "b.bin"):
            src = twin
        else:
            log(f"{twin} does not match {DNSBOX}: callgrind sees no function names, "
                "so no allocation count for dnsbox")
    subprocess.run(["objcopy", "--strip-debug", str(src), str(out)], check=True)
    return out


def callgrind_run(srv, zone, hits, cg_hits, names, queries):
    """Ir and allocator calls over every process of one callgrind run that is
    warmed with every name, then answers `queries` hits (0: idles)."""
    d = Path(tempfile.mkdtemp(prefix=f"cg-{srv.name}-", dir=srv.work))
    wrap = ["valgrind", "--tool=callgrind", "--trace-children=yes",
            f"--callgrind-out-file={d}/callgrind.out.%p", "--dump-instr=no"]
    if isinstance(srv, DnsboxForwarder):
        srv.binary = symbol_binary(srv.work)
    try:
        srv.start(zone, names[0], wrap=wrap, probe_interval=0.5, timeout=300)
    finally:
        if isinstance(srv, DnsboxForwarder):
            srv.binary = DNSBOX
    dnsperf(srv.port, hits, ["-n", "1", "-Q", str(min(WARM_QPS, 500)), "-t", "5"])
    ok, _ = check_names(srv.port, names, timeout=2.0)
    completed = 0
    if queries:
        r = dnsperf(srv.port, cg_hits, ["-n", "1", "-Q", str(CG_QPS), "-t", "10"])
        completed = r["completed"] or 0
    else:
        time.sleep(CG_QUERIES / CG_QPS)
    srv.stop(timeout=120)
    ir = allocs = 0
    for f in d.glob("callgrind.out.*"):
        a, b = callgrind_totals(f)
        ir, allocs = ir + a, allocs + b
    shutil.rmtree(d, ignore_errors=True)
    return ir, allocs, completed, ok


def callgrind(srv, zone, hits, cg_hits, names):
    log(f"callgrind {srv.name}: warm-up, then idle ({CG_QUERIES / CG_QPS:.0f} s)")
    idle_ir, idle_alloc, _, ok0 = callgrind_run(srv, zone, hits, cg_hits, names, 0)
    log(f"callgrind {srv.name}: warm-up, then {CG_QUERIES} cache hits at {CG_QPS} qps")
    busy_ir, busy_alloc, done, ok1 = callgrind_run(srv, zone, hits, cg_hits, names, CG_QUERIES)
    c = {"idle_ir": idle_ir, "busy_ir": busy_ir, "idle_allocs": idle_alloc,
         "busy_allocs": busy_alloc, "completed": done, "warm_ok": [ok0, ok1],
         "ir_per_hit": (busy_ir - idle_ir) / done if done else None,
         # rounded: a stray allocation of the warm-up is not "-0.00" per hit
         "allocs_per_hit": round((busy_alloc - idle_alloc) / done, 3) + 0.0 if done else None}
    if idle_alloc == 0 and busy_alloc == 0:
        c["allocs_per_hit"] = None  # no allocator named: not measured
        c["note"] = "no allocator function seen (no symbols?)"
    log(f"callgrind {srv.name}: Ir idle {idle_ir} busy {busy_ir}, allocator calls idle "
        f"{idle_alloc} busy {busy_alloc}, {done} answered -> {fmt(c['ir_per_hit'], '.0f')} Ir/hit, "
        f"{fmt(c['allocs_per_hit'], '.3f')} allocs/hit")
    return c


# ---------------------------------------------------------------- main

def main():
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dnsbox-bench-fwd-"))
    try:
        return run_bench(work)
    finally:
        for s in list(bench.LIVE):
            try:
                s.stop(timeout=5)
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)


def run_bench(work):
    load0 = f"{os.getloadavg()[0]:.2f}"
    b0 = machine_busy()
    time.sleep(1)
    if machine_busy() - b0 > 0.1:
        log(f"warning: {(machine_busy() - b0) * 100:.0f}% of a CPU busy before the start: "
            "other work competes for the CPUs and skews the numbers")
    zone, hits, cg_hits = work / "fwd.zone", work / "hits.txt", work / "cg-hits.txt"
    names = write_zone(zone)
    write_hits(hits, names)
    write_hits(cg_hits, names, CG_QUERIES)
    upstream = Upstream(PORT, work)
    servers, skipped = {}, {}
    for i, k in enumerate(FORWARDERS):
        if k not in KINDS:
            log(f"{k}: skipped: not one of {','.join(KINDS)}")
            continue
        srv = KINDS[k](PORT + 1 + i, work, PORT)
        why = srv.unavailable()
        if why:
            log(f"{k}: skipped: {why}")
            skipped[k] = why
        else:
            servers[k] = srv
    if not servers:
        log("no forwarder to measure")
        return 1
    log(f"upstream NSD on 127.0.0.1:{PORT} (CPU {UPSTREAM_CPU}), {NAMES} names + *.{MISS_ZONE}")
    upstream.start(zone, names[-1], pin=False)
    results = {k: {} for k in servers}
    direct, errors = {}, {}
    log(f"forwarders {','.join(servers)} on CPU {SERVER_CPU}, dnsperf on CPU {CLIENT_CPU}; "
        f"{RUNS} runs: hits -Q {QPS} -l {SECONDS}; unthrottled -l {MAX_SECONDS} -c {CLIENTS} "
        f"-q {OUTSTANDING}; misses -Q {MISS_QPS} x {MISS_QUERIES}")
    if NAMES + MISS_QUERIES > CACHE:
        log(f"warning: {NAMES} names + {MISS_QUERIES} misses overflow a cache of {CACHE}: "
            "the miss figures include evictions")
    for run in range(RUNS):
        order = list(servers)
        order = order[run % len(order):] + order[:run % len(order)]
        log(f"run {run + 1}/{RUNS}: direct to the upstream")
        run_direct(upstream, run, direct)
        for k in order:
            log(f"run {run + 1}/{RUNS}: {k}")
            try:
                run_forwarder(servers[k], zone, hits, names, upstream, run, results[k])
            except RuntimeError as e:  # one forwarder failing does not lose the others
                servers[k].stop(timeout=5)
                log(f"{k}: run {run + 1} failed: {e}")
                errors.setdefault(k, []).append(str(e).splitlines()[0])
            alive(upstream, f"{k}'s run")
    cg = {}
    if CALLGRIND and not shutil.which("valgrind"):
        log("valgrind missing: no callgrind counts")
    elif CALLGRIND:
        for k in [k for k in CALLGRIND if k in servers]:
            try:
                cg[k] = callgrind(servers[k], zone, hits, cg_hits, names)
            except Exception as e:  # report and go on: callgrind is the optional part
                log(f"callgrind {k}: skipped: {e}")
                cg[k] = {"error": str(e).splitlines()[0]}
    upstream.stop()
    return report(results, direct, cg, skipped, errors, load0)


def report(results, direct, cg, skipped, errors, load0):
    m = {k: {key: med(v) for key, v in r.items()} for k, r in results.items()}
    dm = {key: med(v) for key, v in direct.items()}
    for k, r in m.items():
        if r.get("miss_p50_ms") is not None and dm.get("miss_p50_ms") is not None:
            r["added_p50_ms"] = r["miss_p50_ms"] - dm["miss_p50_ms"]
        if r.get("miss_p99_ms") is not None and dm.get("miss_p99_ms") is not None:
            r["added_p99_ms"] = r["miss_p99_ms"] - dm["miss_p99_ms"]
    others = [x for r in results.values() for x in r.get("other_cpu_pct", [])]
    lines = []
    p = lines.append
    p(f"dnsbox forwarder bench {time.strftime('%Y-%m-%d %H:%M:%S')}  ({os.uname().machine}, "
      f"{os.cpu_count()} CPUs; {DNSBOX})")
    p(f"upstream: NSD on CPU {UPSTREAM_CPU}, {NAMES} names (A, TTL 86400) + *.{MISS_ZONE}; "
      f"cache {CACHE} entries; every forwarder warmed with all {NAMES} names")
    p(f"load average {load0} at start, {os.getloadavg()[0]:.2f} at end; other work during the "
      f"cache-hit runs: max {max(others, default=0):.0f}% of a CPU"
      + ("  (NOISY: rerun on an idle machine)" if any(x > 10 for x in others) else ""))
    p(f"median of {RUNS} run(s); hits -Q {QPS} -l {SECONDS}; unthrottled -l {MAX_SECONDS} "
      f"-c {CLIENTS} -q {OUTSTANDING}; misses -Q {MISS_QPS}, {MISS_QUERIES} unique names; "
      f"forwarder on CPU {SERVER_CPU}, dnsperf on CPU {CLIENT_CPU}")
    p("")
    # (header, width, format, key, source): source "r" = medians, "c" = callgrind
    hit_cols = [("µs/hit", 7, ".2f", "cpu_us", "r"), ("sys", 5, ".2f", "sys_us", "r"),
                ("µs@max", 7, ".2f", "max_cpu_us", "r"),
                ("p50 ms", 7, ".3f", "p50_ms", "r"), ("p99 ms", 7, ".3f", "p99_ms", "r"),
                ("lost", 5, ".0f", "fixed_lost", "r"), ("max qps", 8, ".0f", "max_qps", "r"),
                ("lost", 5, ".0f", "max_lost", "r"), ("rss KiB", 8, ".0f", "rss", "r"),
                ("allocs", 6, ".2f", "allocs_per_hit", "c"), ("Ir/hit", 7, ".0f", "ir_per_hit", "c"),
                ("resp", 5, ".0f", "response_bytes", "r")]
    miss_cols = [("µs/miss", 7, ".2f", "miss_sched_us", "r"), ("p50 ms", 7, ".3f", "miss_p50_ms", "r"),
                 ("p99 ms", 7, ".3f", "miss_p99_ms", "r"), ("lost", 5, ".0f", "miss_lost", "r"),
                 ("+p50 ms", 7, ".3f", "added_p50_ms", "r"), ("+p99 ms", 7, ".3f", "added_p99_ms", "r")]

    def cells(cols, r, c):
        return " ".join(fmt((c if src == "c" else r).get(key), f"{w}{spec}") if r is not None
                        else " " * w for _, w, spec, key, src in cols)
    hdr = (f"{'server':<8} " + " ".join(f"{h:>{w}}" for h, w, *_ in hit_cols) + " | "
           + " ".join(f"{h:>{w}}" for h, w, *_ in miss_cols))
    p(f"{'':<8} {'cache hits (' + str(NAMES) + ' names, warmed)':^{len(cells(hit_cols, None, None))}} | "
      f"{'cache misses (unique names)':^{len(cells(miss_cols, None, None))}}")
    p(hdr)
    p("-" * len(hdr))
    for k, r in m.items():
        p(f"{k:<8} {cells(hit_cols, r, cg.get(k, {}))} | {cells(miss_cols, r, {})}")
    p(f"{'direct':<8} {cells(hit_cols, None, None)} | {cells(miss_cols, dm, {})}")
    p("")
    p("µs/hit: forwarder utime+stime (/proc/PID/stat, 1/%d s ticks, all processes) / queries completed at" % CLK_TCK)
    p("  -Q %d over the %d warmed names; sys: its stime part (in the kernel). p50/p99, first lost: that" % (QPS, NAMES))
    p("  run (dnsperf -v). max qps: unthrottled, bounded by dnsperf's one core; µs@max: CPU per hit in")
    p("  that run. rss: VmRSS after warm-up. allocs, Ir/hit: callgrind, (busy - idle) / hits answered;")
    p("  allocs = calls into malloc & co. from outside the allocator.")
    p("  resp: bytes of one cache-hit answer. Right of |: unique names (fitting in the cache), every one")
    p("  a cache miss forwarded to the upstream: forwarder CPU per query (schedstat, ns), latency, lost;")
    p("  +p50/+p99: minus the `direct` row (the same load sent straight to the upstream; its µs/miss is")
    p("  the upstream's own CPU per query).")
    for k, why in skipped.items():
        p(f"  {k}: not measured: {why}")
    for k, errs in errors.items():
        p(f"  {k}: {len(errs)} of {RUNS} run(s) failed, first: {errs[0]}")
    for k, c in cg.items():
        if "error" in c:
            p(f"  callgrind {k}: not measured: {c['error']}")
        elif "note" in c:
            p(f"  callgrind {k}: allocs not measured: {c['note']}")
    p("")

    def ratio(a, b, key, target, label, src=m):
        x, y = src.get(a, {}).get(key), src.get(b, {}).get(key)
        if x is None or y is None or y == 0:
            p(f"{label:<44} -")
            return
        v = x / y
        p(f"{label:<44} {v:6.3f}" + (f"   target <= {target:<4}  {'ok' if v <= target else 'MISSED'}"
                                       if target is not None else "   (informational)"))
    p("targets (issue):")
    ratio("dnsbox", "unbound", "cpu_us", 0.75, "cpu per cache hit dnsbox / unbound")
    ratio("dnsbox", "dnsmasq", "cpu_us", None, "cpu per cache hit dnsbox / dnsmasq")
    ratio("dnsbox", "unbound", "max_cpu_us", None, "cpu per hit unthrottled dnsbox / unbound")
    a = cg.get("dnsbox", {}).get("allocs_per_hit")
    p(f"{'allocations per cache hit (dnsbox)':<44} " + ("-" if a is None else
      f"{a:6.3f}   target == 0    {'ok' if a < 0.005 else 'MISSED'}"))
    ratio("dnsbox", "unbound", "miss_sched_us", None, "cpu per cache miss dnsbox / unbound")
    ratio("dnsbox", "unbound", "ir_per_hit", None, "callgrind Ir per hit dnsbox / unbound", cg)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"forward-{stamp}.txt").write_text(text)
    (OUT / f"forward-{stamp}.json").write_text(json.dumps(
        {"settings": {"runs": RUNS, "seconds": SECONDS, "qps": QPS, "max_seconds": MAX_SECONDS,
                      "clients": CLIENTS, "outstanding": OUTSTANDING, "names": NAMES,
                      "cache_size": CACHE, "miss_qps": MISS_QPS, "miss_queries": MISS_QUERIES,
                      "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU,
                      "upstream_cpu": UPSTREAM_CPU, "dnsbox": str(DNSBOX),
                      "cg_queries": CG_QUERIES, "cg_qps": CG_QPS},
         "skipped": skipped, "errors": errors, "runs": results, "direct": direct, "median": m,
         "direct_median": dm, "callgrind": cg}, indent=1))
    shutil.copy(OUT / f"forward-{stamp}.txt", OUT / "latest-forward.txt")
    shutil.copy(OUT / f"forward-{stamp}.json", OUT / "latest-forward.json")
    log(f"written to {OUT}/forward-{stamp}.txt and .json (also latest-forward.txt/.json)")
    return 0


if __name__ == "__main__":
    def on_signal(sig, _):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
