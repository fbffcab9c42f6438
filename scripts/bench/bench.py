#!/usr/bin/env python3
"""dnsbox dnsd against NSD and Knot: CPU per query, throughput, latency,
memory, startup and callgrind instructions per query (stdlib only).

Run through scripts/bench.sh (`make bench`), which checks the tools first.
Every server serves the same zone file on 127.0.0.1 (its own high port), with
one UDP worker, pinned to BENCH_SERVER_CPU; dnsperf is pinned to
BENCH_CLIENT_CPU. Runs alternate between servers; the table shows medians.

Measurements, per server and run (1k-name zone unless noted):
  cpu/q     server CPU (utime+stime of every process of the server, from
            /proc/PID/stat) over a fixed offered load (dnsperf -Q BENCH_QPS
            -l BENCH_SECONDS), divided by dnsperf's "Queries completed"
  p50/p99   latency of that fixed-load run, from dnsperf -v (one line per
            answer); lost = queries dnsperf reports lost in it
  max qps   dnsperf unthrottled (-c BENCH_CLIENTS -q BENCH_OUTSTANDING
            -l BENCH_MAX_SECONDS); dnsperf on one core saturates near
            140k qps on loopback, so this is a floor, not the server's limit
  rss/pss   VmRSS (summed over NSD's processes) and Pss (smaps_rollup,
            which does not count pages NSD's forks share twice), 0.5 s after
            the first answered query
  start     process start to the first answered query (a UDP probe for the
            last name of the zone, every ~2 ms)
  1M        a BENCH_HUGE_RECORDS-record zone (default 1,000,000; 0 skips):
            start and RSS of every server, then for dnsbox a reload under
            load: dnsperf at BENCH_RELOAD_QPS for BENCH_RELOAD_SECONDS with a
            SIGHUP (the zone file rewritten with the next serial) after 2 s;
            lost = queries dnsperf lost across it, and the reload counts only
            if the new serial is served at the end; RSS after the reload
  Ir/q      callgrind: Ir of a run that answers BENCH_CG_QUERIES queries
            at BENCH_CG_QPS, minus Ir of an idle run of the same length,
            divided by the queries completed (all processes of the server)
"""
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def env_int(name, default):
    return int(os.environ.get(name, default))


RUNS = env_int("BENCH_RUNS", 3)
SECONDS = env_int("BENCH_SECONDS", 20)
QPS = env_int("BENCH_QPS", 50000)
MAX_SECONDS = env_int("BENCH_MAX_SECONDS", 10)
CLIENTS = env_int("BENCH_CLIENTS", 4)
OUTSTANDING = env_int("BENCH_OUTSTANDING", 200)
SMALL_NAMES = env_int("BENCH_SMALL_NAMES", 1000)
BIG_RECORDS = env_int("BENCH_BIG_RECORDS", 100000)
HUGE_RECORDS = env_int("BENCH_HUGE_RECORDS", 1000000)
RELOAD_QPS = env_int("BENCH_RELOAD_QPS", 20000)
RELOAD_SECONDS = env_int("BENCH_RELOAD_SECONDS", 8)
CG_QUERIES = env_int("BENCH_CG_QUERIES", 20000)
CG_QPS = env_int("BENCH_CG_QPS", 2000)
CALLGRIND = os.environ.get("BENCH_CALLGRIND", "dnsbox,nsd,knot")
SERVERS = os.environ.get("BENCH_SERVERS", "dnsbox,nsd,knot").split(",")
SERVER_CPU = env_int("BENCH_SERVER_CPU", 0)
CLIENT_CPU = env_int("BENCH_CLIENT_CPU", 1)
BASE_PORT = env_int("BENCH_PORT", 25300)
DNSBOX = Path(os.environ.get("DNSBOX_BIN", ROOT / ".build" / "release" / "dnsbox")).resolve()
OUT = Path(os.environ.get("BENCH_OUT", ROOT / ".build" / "bench"))
ORIGIN = "bench.test"
CLK_TCK = os.sysconf("SC_CLK_TCK")

LIVE: list["Server"] = []
LOAD0 = "?"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(ppid, utime+stime ticks) from /proc/PID/stat; fields after the last ')'."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def tree(pid):
    """pid and all its live descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid, _ = proc_stat(int(d))
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    """(utime+stime in seconds, summed schedstat run time in seconds)."""
    ticks, ns = 0, 0
    for p in pids:
        try:
            ticks += proc_stat(p)[1]
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    ns += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return ticks / CLK_TCK, ns / 1e9


def memory_kib(pids):
    """(VmRSS summed, Pss summed) in KiB."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                m = re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M)
                rss += int(m.group(1)) if m else 0
            with open(f"/proc/{p}/smaps_rollup") as f:
                m = re.search(r"^Pss:\s+(\d+)", f.read(), re.M)
                pss += int(m.group(1)) if m else 0
        except OSError:
            pass
    return rss, pss


def machine_busy():
    """Busy seconds of all CPUs (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------- DNS probe

def probe_query(qid, name, qtype=1, rd=False):
    q = struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def wait_answer(port, name, proc, timeout=120.0, interval=0.002, authoritative=True):
    """Seconds until 127.0.0.1:port gives an authoritative (or, for a
    forwarder, asked with RD, any) NOERROR answer with records for `name`;
    polls with one UDP query every `interval`."""
    t0 = time.monotonic()
    qid = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        s.settimeout(interval)
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before answering")
            qid = (qid + 1) & 0xFFFF
            try:
                s.send(probe_query(qid, name, rd=not authoritative))
                while True:
                    r = s.recv(4096)
                    if len(r) >= 12:
                        rid, flags, _, an = struct.unpack(">HHHH", r[:8])
                        if rid == qid and flags & 0x8000:
                            break
                if flags & 0x000F == 0 and (flags & 0x0400 or not authoritative) and an > 0:
                    return time.monotonic()
            except (socket.timeout, ConnectionRefusedError):
                pass
            except OSError:
                time.sleep(interval)
    raise RuntimeError(f"no answer from port {port} within {timeout} s")


# ---------------------------------------------------------------- servers

class Server:
    name = "?"
    authoritative = True  # readiness: an AA answer (False: a forwarder's)

    def __init__(self, port, work):
        self.port = port
        self.work = work
        self.proc = None
        self.pids_seen = set()

    def argv(self, zone, d):  # pragma: no cover - per server
        raise NotImplementedError

    def start(self, zone, probe_name, wrap=None, pin=True, probe_interval=0.002, timeout=120.0):
        """Starts on a fresh directory; returns seconds to the first answer."""
        d = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.work))
        argv = self.argv(zone, d)
        if wrap:
            argv = wrap + argv
        if pin:
            argv = ["taskset", "-c", str(SERVER_CPU)] + argv
        self.logfile = open(d / "server.log", "wb")
        LIVE.append(self)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self.logfile, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            t1 = wait_answer(self.port, probe_name, self.proc, timeout, probe_interval,
                             self.authoritative)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{self.name}: {e}; log: {d / 'server.log'}:\n"
                               + (d / "server.log").read_text(errors="replace")[-2000:])
        self.after_start()
        self.pids_seen.update(self.pids())
        return t1 - t0

    def after_start(self):
        pass

    def pids(self):
        return tree(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self, timeout=30):
        if not self.proc:
            return
        self.pids_seen.update(self.pids())
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # NSD's forks outlive the first pid for a moment: wait, then kill.
        deadline = time.monotonic() + timeout
        for p in sorted(self.pids_seen):
            while time.monotonic() < deadline and os.path.exists(f"/proc/{p}") and not zombie(p):
                time.sleep(0.05)
            try:
                if not zombie(p) and p != os.getpid():
                    os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError):
                pass
        self.pids_seen.clear()
        self.logfile.close()
        self.proc = None
        if self in LIVE:
            LIVE.remove(self)


def zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] in "ZX"
    except (OSError, ValueError):
        return True


class Dnsbox(Server):
    name = "dnsbox"
    workers_ok = None
    binary = DNSBOX

    def config(self, zone, d, workers):
        return (
            "config dnsbox 'main'\n"
            f"\toption database '{d}/state/dnsbox.db'\n"
            f"\toption rundir '{d}/run'\n"
            "\toption log_level 'warn'\n"
            "config dnsd 'main'\n"
            f"\tlist listen '127.0.0.1:{self.port}'\n"
            + ("\toption workers '1'\n" if workers else "")
            + "config zone\n"
            f"\toption name '{ORIGIN}'\n"
            f"\toption file '{zone}'\n"
        )

    def argv(self, zone, d):
        conf = d / "dnsbox.conf"
        if Dnsbox.workers_ok is None:
            conf.write_text(self.config(zone, d, True))
            r = subprocess.run([str(self.binary), "check-config", "-q", "-c", str(conf)],
                               capture_output=True, text=True)
            Dnsbox.workers_ok = r.returncode == 0
            if not Dnsbox.workers_ok:
                log("dnsbox does not know `option workers` yet; dnsd runs its one thread")
        conf.write_text(self.config(zone, d, Dnsbox.workers_ok))
        return [str(self.binary), "dnsd", "-c", str(conf)]


class NSD(Server):
    name = "nsd"
    origin = ORIGIN
    server_options = ""  # more `server:` lines (bench_forward.py's upstream)

    def argv(self, zone, d):
        conf = d / "nsd.conf"
        conf.write_text(f"""server:
	ip-address: 127.0.0.1@{self.port}
	port: {self.port}
	do-ip6: no
	server-count: 1
	reuseport: no
	username: ""
	chroot: ""
	zonesdir: "{d}"
	pidfile: "{d}/nsd.pid"
	database: ""
	xfrdfile: "{d}/xfrd.state"
	xfrdir: "{d}"
	zonelistfile: "{d}/zone.list"
	logfile: "{d}/nsd.log"
	verbosity: 0
	hide-version: yes
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
{self.server_options}remote-control:
	control-enable: no
zone:
	name: "{self.origin}"
	zonefile: "{zone}"
""")
        return [shutil.which("nsd") or "/usr/sbin/nsd", "-d", "-c", str(conf)]


class Knot(Server):
    name = "knot"

    def argv(self, zone, d):
        conf = d / "knot.conf"
        conf.write_text(f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{self.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {ORIGIN}
    file: "{zone}"
""")
        return [shutil.which("knotd") or "/usr/sbin/knotd", "-c", str(conf)]

    def after_start(self):
        # knotd pins UDP worker N to CPU N itself: put every thread on ours.
        subprocess.run(["taskset", "-a", "-p", format(1 << SERVER_CPU, "x"), str(self.proc.pid)],
                       check=True, stdout=subprocess.DEVNULL)


KINDS = {"dnsbox": Dnsbox, "nsd": NSD, "knot": Knot}


# ---------------------------------------------------------------- dnsperf

def dnsperf(port, qfile, args, verbose_to=None):
    argv = ["taskset", "-c", str(CLIENT_CPU), "dnsperf", "-s", "127.0.0.1", "-p", str(port),
            "-d", str(qfile), "-O", "suppress=timeouts,congestion,sendfailed,sockready,unexpected",
            *args]
    if verbose_to:
        with open(verbose_to, "w") as f:
            r = subprocess.run(argv + ["-v"], stdout=f, stderr=subprocess.PIPE, text=True)
        text = Path(verbose_to).read_text(errors="replace")
        stats = text[text.rfind("Statistics:"):]
    else:
        r = subprocess.run(argv, capture_output=True, text=True)
        stats = r.stdout
    if r.returncode != 0:
        raise RuntimeError(f"dnsperf failed ({r.returncode}): {r.stderr[-1000:]}")

    def grab(label, conv=float):
        m = re.search(rf"{label}:\s+([\d.]+)", stats)
        return conv(m.group(1)) if m else None
    return {"sent": grab("Queries sent", int), "completed": grab("Queries completed", int),
            "lost": grab("Queries lost", int), "qps": grab("Queries per second"),
            "avg_latency": grab(r"Average Latency \(s\)")}


def latency_percentiles(path):
    lat = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("> ") and not line.startswith("> T "):
                try:
                    lat.append(float(line.rsplit(None, 1)[1]))
                except (ValueError, IndexError):
                    pass
    if not lat:
        return None, None
    lat.sort()
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


# ---------------------------------------------------------------- phases

def run_load(srv, zone, probe, qfile, res):
    start = srv.start(zone, probe)
    time.sleep(0.5)
    rss, pss = memory_kib(srv.pids())
    res.setdefault("start_1k", []).append(start)
    res.setdefault("rss_1k", []).append(rss)
    res.setdefault("pss_1k", []).append(pss)
    # (a) fixed offered load: server CPU per answered query, latency.
    vfile = srv.work / f"{srv.name}-verbose.txt"
    c0, n0 = cpu_seconds(srv.pids())
    m0, k0 = machine_busy(), children_cpu()
    a = dnsperf(srv.port, qfile, ["-Q", str(QPS), "-l", str(SECONDS)], verbose_to=vfile)
    c1, n1 = cpu_seconds(srv.pids())
    m1, k1 = machine_busy(), children_cpu()
    # CPU the rest of the machine used meanwhile (not server, not dnsperf):
    # other work competing for the two cores makes every number noisier.
    res.setdefault("other_cpu_pct", []).append(
        max(0.0, (m1 - m0) - (c1 - c0) - (k1 - k0)) / SECONDS * 100)
    p50, p99 = latency_percentiles(vfile)
    vfile.unlink()
    done = max(a["completed"] or 0, 1)
    res.setdefault("cpu_us", []).append((c1 - c0) / done * 1e6)
    res.setdefault("sched_us", []).append((n1 - n0) / done * 1e6)
    res.setdefault("fixed_qps", []).append(a["qps"])
    res.setdefault("fixed_lost", []).append(a["lost"])
    res.setdefault("p50_ms", []).append(p50 * 1e3 if p50 is not None else None)
    res.setdefault("p99_ms", []).append(p99 * 1e3 if p99 is not None else None)
    # (b) unthrottled.
    b = dnsperf(srv.port, qfile, ["-l", str(MAX_SECONDS), "-c", str(CLIENTS), "-q", str(OUTSTANDING)])
    res.setdefault("max_qps", []).append(b["qps"])
    res.setdefault("max_lost", []).append(b["lost"])
    rss2, _ = memory_kib(srv.pids())
    res.setdefault("rss_1k_after", []).append(rss2)
    srv.stop()
    log(f"{srv.name}: {(c1 - c0) / done * 1e6:.2f} µs/q at {a['qps']:.0f} qps "
        f"(lost {a['lost']}), p99 {p99 * 1e3 if p99 else float('nan'):.3f} ms, "
        f"max {b['qps']:.0f} qps (lost {b['lost']}), rss {rss} KiB, start {start * 1e3:.0f} ms, "
        f"other work {res['other_cpu_pct'][-1]:.0f}% of a CPU")


def run_big(srv, zone, probe, res):
    start = srv.start(zone, probe)
    time.sleep(0.5)
    rss, pss = memory_kib(srv.pids())
    srv.stop()
    res.setdefault("start_100k", []).append(start)
    res.setdefault("rss_100k", []).append(rss)
    res.setdefault("pss_100k", []).append(pss)
    log(f"{srv.name}: 100k zone: rss {rss} KiB, pss {pss} KiB, start {start * 1e3:.0f} ms")


def soa_serial(port, name):
    """The SOA serial `name` is served with, or None."""
    q = struct.pack(">HHHHHH", 0x5151, 0, 1, 0, 0, 0) + b"".join(
        bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0" + struct.pack(">HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.sendto(q, ("127.0.0.1", port))
        try:
            r = s.recv(4096)
        except OSError:
            return None
    if struct.unpack(">H", r[6:8])[0] < 1:
        return None
    # question, then the answer: name (a pointer), type, class, ttl, rdlength,
    # then two names and five 32-bit fields; the serial is the first of them.
    i = 12
    while r[i]:
        i += r[i] + 1
    i += 5 + 2 + 10

    def skip(i):
        while r[i]:
            if r[i] >= 0xC0:
                return i + 2
            i += r[i] + 1
        return i + 1
    i = skip(skip(i))
    return struct.unpack(">I", r[i:i + 4])[0]


def run_huge(srv, zone, probe, qfile, res):
    """Start and RSS on the 1M zone; for dnsbox also a reload under load."""
    start = srv.start(zone, probe, timeout=600)
    time.sleep(0.5)
    rss, _ = memory_kib(srv.pids())
    res.setdefault("start_1m", []).append(start)
    res.setdefault("rss_1m", []).append(rss)
    msg = f"{srv.name}: 1M zone: rss {rss} KiB, start {start * 1e3:.0f} ms"
    if srv.name == "dnsbox":
        text = Path(zone).read_text()
        m = re.search(r"(IN SOA \S+ \S+ )(\d+)", text)
        serial = int(m.group(2)) + 1
        out = {}

        def load():
            out["r"] = dnsperf(srv.port, qfile, ["-Q", str(RELOAD_QPS), "-l", str(RELOAD_SECONDS)])
        t = threading.Thread(target=load)
        t.start()
        time.sleep(2)
        Path(zone).write_text(text[:m.start(2)] + str(serial) + text[m.end(2):])
        srv.proc.send_signal(signal.SIGHUP)
        t.join()
        served = soa_serial(srv.port, ORIGIN)
        rss2, _ = memory_kib(srv.pids())
        r = out.get("r") or {}
        res.setdefault("reload_lost", []).append(r.get("lost"))
        res.setdefault("reload_sent", []).append(r.get("sent"))
        res.setdefault("reload_swapped", []).append(served == serial)
        res.setdefault("rss_1m_reload", []).append(rss2)
        Path(zone).write_text(text)
        msg += (f"; reload under {RELOAD_QPS} qps: lost {r.get('lost')} of {r.get('sent')}, "
                f"new serial served: {served == serial}, rss after {rss2} KiB")
    srv.stop()
    log(msg)


def callgrind_ir(srv, zone, probe, qfile, queries):
    """Total Ir over every process of one callgrind run; `queries` = 0 idles."""
    d = Path(tempfile.mkdtemp(prefix=f"cg-{srv.name}-", dir=srv.work))
    wrap = ["valgrind", "--tool=callgrind", "--trace-children=yes",
            f"--callgrind-out-file={d}/callgrind.out.%p", "--dump-instr=no"]
    if isinstance(srv, Dnsbox):
        # Valgrind 3.19 gives up on the DWARF 5 of Swift's debug info: run a
        # copy without it (same code, so the same instruction counts).
        srv.binary = srv.work / "cg-bin" / "dnsbox"
        if not srv.binary.exists():
            srv.binary.parent.mkdir(exist_ok=True)
            subprocess.run(["objcopy", "--strip-debug", str(DNSBOX), str(srv.binary)], check=True)
    try:
        srv.start(zone, probe, wrap=wrap, probe_interval=0.5, timeout=300)
    finally:
        if isinstance(srv, Dnsbox):
            srv.binary = DNSBOX
    seconds = max(1.0, queries / CG_QPS) if queries else CG_QUERIES / CG_QPS
    completed = 0
    if queries:
        r = dnsperf(srv.port, qfile, ["-n", "1", "-Q", str(CG_QPS), "-t", "10"])
        completed = r["completed"] or 0
    else:
        time.sleep(seconds)
    srv.stop(timeout=120)
    total = 0
    for f in d.glob("callgrind.out.*"):
        m = None
        with open(f, errors="replace") as fh:
            for line in fh:
                if line.startswith(("summary:", "totals:")):
                    m = int(line.split()[1])
        total += m or 0
    shutil.rmtree(d, ignore_errors=True)
    return total, completed


# ---------------------------------------------------------------- report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dnsbox-bench-"))
    try:
        return bench(work)
    finally:
        for s in list(LIVE):
            try:
                s.stop(timeout=5)
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)


def gen(args):
    r = subprocess.run([sys.executable, str(HERE / "genzone.py"), "--origin", ORIGIN, *args],
                       check=True, capture_output=True, text=True)
    log(r.stdout.strip())
    return r.stdout


def last_host(zone):
    name = None
    with open(zone) as f:
        for line in f:
            if " IN A " in line and line.startswith("h"):
                name = line.split()[0]
    return f"{name}.{ORIGIN}"


def bench(work):
    global LOAD0
    LOAD0 = f"{os.getloadavg()[0]:.2f}"
    b0 = machine_busy()
    time.sleep(1)
    if machine_busy() - b0 > 0.1:
        log(f"warning: {(machine_busy() - b0) * 100:.0f}% of a CPU busy before the start: "
            "other work competes for the CPUs and skews the numbers")
    small, big, qfile = work / "small.zone", work / "big.zone", work / "queries.txt"
    small_desc = gen(["--names", str(SMALL_NAMES), "--zone", str(small), "--queries", str(qfile)])
    big_desc = gen(["--records", str(BIG_RECORDS), "--zone", str(big)])
    probe_small, probe_big = last_host(small), last_host(big)
    servers = {k: KINDS[k](BASE_PORT + 1 + i, work) for i, k in enumerate(SERVERS)}
    results = {k: {} for k in servers}
    log(f"servers {','.join(servers)} on CPU {SERVER_CPU}, dnsperf on CPU {CLIENT_CPU}; "
        f"{RUNS} runs: -Q {QPS} -l {SECONDS}; unthrottled -l {MAX_SECONDS} -c {CLIENTS} -q {OUTSTANDING}")
    for run in range(RUNS):
        order = list(servers)
        order = order[run % len(order):] + order[:run % len(order)]  # rotate who goes first
        for k in order:
            log(f"run {run + 1}/{RUNS}: {k}, 1k zone")
            run_load(servers[k], small, probe_small, qfile, results[k])
        for k in order:
            run_big(servers[k], big, probe_big, results[k])
    huge_desc = None
    if HUGE_RECORDS > 0:
        huge, hq = work / "huge.zone", work / "huge-queries.txt"
        huge_desc = gen(["--records", str(HUGE_RECORDS), "--zone", str(huge)])
        # Queries for names the zone has (A of every 7th host).
        with open(huge) as f, open(hq, "w") as o:
            for i, line in enumerate(f):
                if i % 7 == 0 and line.startswith("h") and " IN A " in line:
                    o.write(f"{line.split()[0]}.{ORIGIN} A\n")
        for k in servers:
            try:
                run_huge(servers[k], huge, last_host(huge), hq, results[k])
            except Exception as e:
                log(f"{k}: 1M zone: skipped: {e}")
    cg = {}
    cg_kinds = [k for k in CALLGRIND.split(",") if k in servers] if CALLGRIND not in ("", "0") else []
    if cg_kinds:
        cg_q = work / "cg-queries.txt"
        with open(qfile) as f, open(cg_q, "w") as o:
            lines = f.readlines()
            for i in range(CG_QUERIES):
                o.write(lines[i % len(lines)])
        for k in cg_kinds:
            srv = servers[k]
            try:
                log(f"callgrind {k}: idle run ({CG_QUERIES / CG_QPS:.0f} s)")
                idle, _ = callgrind_ir(srv, small, probe_small, cg_q, 0)
                log(f"callgrind {k}: {CG_QUERIES} queries at {CG_QPS} qps")
                busy, done = callgrind_ir(srv, small, probe_small, cg_q, CG_QUERIES)
                cg[k] = {"idle_ir": idle, "busy_ir": busy, "completed": done,
                         "ir_per_query": (busy - idle) / done if done else None}
                log(f"callgrind {k}: idle {idle} Ir, busy {busy} Ir, {done} answered -> "
                    f"{cg[k]['ir_per_query'] or 0:.0f} Ir/query")
            except Exception as e:  # report and go on: callgrind is the optional part
                log(f"callgrind {k}: skipped: {e}")
                cg[k] = {"error": str(e).splitlines()[0]}
    return report(results, cg, small_desc, big_desc, huge_desc)


def report(results, cg, small_desc, big_desc, huge_desc=None):
    m = {k: {key: med(v) for key, v in r.items()} for k, r in results.items()}
    lines = []
    p = lines.append
    p(f"dnsbox bench {time.strftime('%Y-%m-%d %H:%M:%S')}  ({os.uname().machine}, "
      f"{os.cpu_count()} CPUs; {DNSBOX})")
    p(f"zones: {small_desc.split(': ', 1)[1].strip()} / {big_desc.split(': ', 1)[1].strip()}; "
      f"queries: 80% A, 10% AAAA, 10% NXDOMAIN")
    p(f"load average {LOAD0} at start, {os.getloadavg()[0]:.2f} at end; other work during the "
      f"fixed-load runs: max {max((x for r in results.values() for x in r.get('other_cpu_pct', [])), default=0):.0f}% of a CPU"
      + ("  (NOISY: rerun on an idle machine)" if any(x > 10 for r in results.values()
                                                   for x in r.get("other_cpu_pct", [])) else ""))
    p(f"median of {RUNS} run(s); fixed load -Q {QPS} -l {SECONDS}; unthrottled -l {MAX_SECONDS} "
      f"-c {CLIENTS} -q {OUTSTANDING}; server on CPU {SERVER_CPU}, dnsperf on CPU {CLIENT_CPU}")
    p("")
    hdr = (f"{'server':<8} {'cpu µs/q':>9} {'sched µs/q':>10} {'p50 ms':>7} {'p99 ms':>7} {'lost':>5} "
           f"{'max qps':>8} {'lost':>5} {'rss 1k':>8} {'rss 100k':>9} {'pss 100k':>9} "
           f"{'start 1k':>9} {'start 100k':>10} {'Ir/q':>7}")
    p(hdr)
    p("-" * len(hdr))
    for k, r in m.items():
        ir = cg.get(k, {}).get("ir_per_query")
        p(f"{k:<8} {fmt(r.get('cpu_us'), '9.2f')} {fmt(r.get('sched_us'), '10.2f')} "
          f"{fmt(r.get('p50_ms'), '7.3f')} {fmt(r.get('p99_ms'), '7.3f')} {fmt(r.get('fixed_lost'), '5.0f')} "
          f"{fmt(r.get('max_qps'), '8.0f')} {fmt(r.get('max_lost'), '5.0f')} "
          f"{fmt(r.get('rss_1k'), '6.0f')}Ki {fmt(r.get('rss_100k'), '7.0f')}Ki {fmt(r.get('pss_100k'), '7.0f')}Ki "
          f"{fmt(r.get('start_1k') and r['start_1k'] * 1e3, '7.0f')}ms {fmt(r.get('start_100k') and r['start_100k'] * 1e3, '8.0f')}ms "
          f"{fmt(ir, '7.0f')}")
    p("")
    p("cpu µs/q: utime+stime (/proc/PID/stat, 1/%d s ticks, all processes) / queries completed at the fixed load;" % CLK_TCK)
    p("  sched µs/q: the same from /proc/PID/task/*/schedstat (ns). p50/p99 and the first lost column: that fixed-load run")
    p("  (dnsperf -v). max qps: unthrottled, bounded by dnsperf's one core. rss: VmRSS summed over all processes;")
    p("  pss: Pss (shared pages split). start: exec to first answered query. Ir/q: callgrind (busy - idle) / answered.")
    for k, c in cg.items():
        if "error" in c:
            p(f"  callgrind {k}: not measured: {c['error']}")
    p("")

    def ratio(a, b, key, target, label):
        x, y = m.get(a, {}).get(key), m.get(b, {}).get(key)
        if x is None or y is None or y == 0:
            p(f"{label:<40} -")
            return
        v = x / y
        p(f"{label:<40} {v:6.3f}   target <= {target:<4}  {'ok' if v <= target else 'MISSED'}")
    if huge_desc:
        p(f"1M zone: {huge_desc.split(': ', 1)[1].strip()}")
        h2 = f"{'server':<8} {'start':>9} {'rss':>10} {'reload lost':>12} {'swapped':>8} {'rss after reload':>17}"
        p(h2)
        p("-" * len(h2))
        for k, r in m.items():
            if r.get("start_1m") is None:
                continue
            lost = r.get("reload_lost")
            sent = r.get("reload_sent")
            sw = results[k].get("reload_swapped")
            p(f"{k:<8} {r['start_1m'] * 1e3:7.0f}ms {fmt(r.get('rss_1m'), '8.0f')}Ki "
              f"{(f'{lost:.0f}/{sent:.0f}' if lost is not None and sent else '-'):>12} "
              f"{(str(all(sw)) if sw else '-'):>8} {fmt(r.get('rss_1m_reload'), '15.0f')}Ki")
        p("")
    p("targets (issue):")
    ratio("dnsbox", "nsd", "cpu_us", 0.75, "cpu/query dnsbox / NSD")
    ratio("dnsbox", "knot", "cpu_us", 0.9, "cpu/query dnsbox / Knot")
    ratio("dnsbox", "knot", "rss_100k", 0.8, "RSS 100k dnsbox / Knot")
    ratio("dnsbox", "knot", "start_100k", 0.8, "startup 100k dnsbox / Knot")
    d = m.get("dnsbox", {})
    if huge_desc and d.get("start_1m") is not None:
        def absolute(label, v, target, unit):
            p(f"{label:<40} {v:6.0f}{unit} target < {target}{unit}  {'ok' if v < target else 'MISSED'}")
        absolute("1M zone: dnsbox start", d["start_1m"] * 1e3, 3000, " ms")
        absolute("1M zone: dnsbox RSS", d["rss_1m"] / 1024, 100, " MB")
        if d.get("reload_lost") is not None:
            sw = all(results["dnsbox"].get("reload_swapped", [False]))
            ok = d["reload_lost"] == 0 and sw
            p(f"{'1M zone: reload under load, lost':<40} {d['reload_lost']:6.0f}   target 0 (new serial served: {sw})"
              f"  {'ok' if ok else 'MISSED'}")
    for other in ("nsd", "knot"):
        a, b = cg.get("dnsbox", {}).get("ir_per_query"), cg.get(other, {}).get("ir_per_query")
        if a and b:
            tgt = "target <= 0.8  " + ("ok" if a / b <= 0.8 else "MISSED") if other == "nsd" else "(informational)"
            p(f"{'callgrind Ir/query dnsbox / ' + other:<40} {a / b:6.3f}   {tgt}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"bench-{stamp}.txt").write_text(text)
    (OUT / f"bench-{stamp}.json").write_text(json.dumps(
        {"settings": {"runs": RUNS, "seconds": SECONDS, "qps": QPS, "max_seconds": MAX_SECONDS,
                      "clients": CLIENTS, "outstanding": OUTSTANDING, "dnsbox": str(DNSBOX),
                      "dnsbox_workers_option": Dnsbox.workers_ok},
         "runs": results, "median": m, "callgrind": cg}, indent=1))
    shutil.copy(OUT / f"bench-{stamp}.txt", OUT / "latest.txt")
    shutil.copy(OUT / f"bench-{stamp}.json", OUT / "latest.json")
    log(f"written to {OUT}/bench-{stamp}.txt and .json (also latest.txt/latest.json)")
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
