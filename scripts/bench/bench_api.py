#!/usr/bin/env python3
"""dnsbox apictl: how soon an API write answers in DNS, and how many API
writes per second it takes (stdlib only; some helpers come from bench.py).

Run through scripts/bench.sh (`make bench`, or BENCH_ONLY=api). `dnsbox
dnsd` and `dnsbox apictl serve` run on one config (a dynamic zone
bench.local, rate_limit 0, audit off, log_level warn), both pinned to
BENCH_SERVER_CPU; the clients run on BENCH_CLIENT_CPU.

(a) write -> DNS: BENCH_API_WRITES (1,000) sequential `PUT
    /v1/services/lat` over one keep-alive connection, each with a new
    address; after each 200 a raw UDP client (one hand-built query at a
    time, no pause) asks dnsd for lat.bench.local A until the new address
    answers. Per write: the PUT's round trip, and the time from the 200 to
    the first answer with the new address. p50/p99/max; target p99 < 10 ms.
(b) writes/s: wrk (-t BENCH_API_THREADS -c BENCH_API_CONNECTIONS -d
    BENCH_API_SECONDS, pinned to the client CPU) with a Lua script: every
    request a PUT of a new service (w<thread>-<n>) with one address;
    PUT/s = wrk's Requests/sec, non-200s counted; target >= 2,000/s. Then
    the services in the store (GET /v1/services) and the last one in DNS.
    Without wrk: a Python load generator (threads, keep-alive http.client),
    said so in the table; its figure is a floor (the GIL, not the server).

(c) a big zone: BENCH_API_SERVICES (100,000) services in one bulk `PUT
    /v1/state`, the time until the last answers, a 7 s pause (dnsd compiles
    a zone under a layer once writes pause for 5 s), then (a) again on it
    (target p99 < 10 ms), then BENCH_API_SLICES (10) wrk runs of
    BENCH_API_SLICE_SECONDS (2) back to back, each adding new services:
    PUT/s and dnsd's and apictl's CPU per slice; target last / first >= 0.9
    (PUT/s does not fall as the zone grows). Needs wrk.

Peer: the issue's reference is CoreDNS with the dynresolve plugin. When no
`coredns` binary is on PATH (Debian has none) there is no side-by-side peer:
the table gives absolute figures against the targets.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (same directory: its helpers and knobs)
from bench import (CLIENT_CPU, DNSBOX, OUT, SERVER_CPU, cpu_seconds, env_int, log, machine_busy,  # noqa: E402
                   memory_kib, tree)

WRITES = env_int("BENCH_API_WRITES", 1000)
SECONDS = env_int("BENCH_API_SECONDS", 10)
CONNECTIONS = env_int("BENCH_API_CONNECTIONS", 32)
THREADS = env_int("BENCH_API_THREADS", 2)
DNS_PORT = env_int("BENCH_API_DNS_PORT", env_int("BENCH_PORT", 25300) + 40)
API_PORT = env_int("BENCH_API_PORT", DNS_PORT + 1)
ZONE = "bench.local"
TOKEN = "bench-token"
SERVICES = env_int("BENCH_API_SERVICES", 100000)
SLICES = env_int("BENCH_API_SLICES", 10)
SLICE_SECONDS = env_int("BENCH_API_SLICE_SECONDS", 2)
COMPACT_WAIT = 7
TARGET_P99_MS = 10.0
TARGET_PUTS = 2000.0
TARGET_GROWTH = 0.9

PROCS: list[subprocess.Popen] = []

WRK_LUA = r"""
-- Every request a PUT of a new service: w<thread>-<n>.
local counter = 0
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end
function init(args)
  prefix = os.getenv("DNSBOX_BENCH_PREFIX") or "w"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("DNSBOX_BENCH_TOKEN")
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local path = string.format("/v1/services/%s%d-%d", prefix, tid, counter)
  local body = string.format('{"type":"A","records":["10.%d.%d.%d"],"ttl":5}',
                             tid % 256, math.floor(counter / 256) % 256, counter % 256)
  return wrk.format("PUT", path, nil, body)
end
"""


def taskset(cpu):
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# ---------------------------------------------------------------- servers

def write_config(work):
    conf = work / "dnsbox.conf"
    conf.write_text(
        "config dnsbox 'main'\n"
        f"\toption database '{work / 'dnsbox.db'}'\n"
        f"\toption rundir '{work / 'run'}'\n"
        "\toption log_level 'warn'\n"
        "config dnsd 'main'\n"
        f"\tlist listen '127.0.0.1:{DNS_PORT}'\n"
        "\toption workers '1'\n"
        "config api 'main'\n"
        f"\toption listen '127.0.0.1:{API_PORT}'\n"
        f"\toption token '{TOKEN}'\n"
        "\toption rate_limit '0'\n"
        "\toption audit '0'\n"
        "\toption max_connections '256'\n"
        "config zone\n"
        f"\toption name '{ZONE}'\n"
        "\toption dynamic '1'\n"
        "\toption service_ttl '5'\n")
    return conf


def start(work, conf):
    env = dict(os.environ, DNSBOX_CONFIG=str(conf))
    procs = {}
    for name, argv in (("dnsd", [str(DNSBOX), "dnsd", "-c", str(conf)]),
                       ("apictl", [str(DNSBOX), "apictl", "serve"])):
        f = open(work / f"{name}.log", "ab")
        p = subprocess.Popen(taskset(SERVER_CPU) + argv, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=work)
        f.close()
        PROCS.append(p)
        procs[name] = p
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for name, p in procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}: "
                                   + (work / f"{name}.log").read_text(errors="replace")[-2000:])
        try:
            if request("GET", "/api/v1/health")[0] == 200:
                with socket_for_dns() as s:
                    if dns_ask(s, f"x.{ZONE}") is not None:
                        return procs
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("dnsd and apictl not ready within 30 s")


def stop(procs):
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---------------------------------------------------------------- clients

def request(method, path, body=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        if own:
            conn.close()


def socket_for_dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", DNS_PORT))
    s.settimeout(0.5)
    return s


def dns_query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


_qid = [0]


def dns_ask(s, name, qtype=1):
    """The A addresses of the answer (a set of 4-byte strings), or None on a
    timeout; rcode != 0 gives an empty set."""
    _qid[0] = (_qid[0] + 1) & 0xFFFF
    qid = _qid[0]
    s.send(dns_query(qid, name, qtype))
    try:
        while True:
            r = s.recv(4096)
            if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == qid:
                break
    except socket.timeout:
        return None
    flags, qd, an = struct.unpack(">HHH", r[2:8])
    if flags & 0x000F:
        return set()
    i = 12
    for _ in range(qd):
        i = skip_name(r, i) + 4
    out = set()
    for _ in range(an):
        i = skip_name(r, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", r[i:i + 10])
        i += 10
        if rtype == 1:
            out.add(r[i:i + rdlen])
        i += rdlen
    return out


def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


# ---------------------------------------------------------------- (a) write -> DNS

def measure_latency():
    os.sched_setaffinity(0, {CLIENT_CPU})
    conn = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=10)
    s = socket_for_dns()
    put_ms, visible_ms, polls, errors = [], [], 0, 0
    try:
        for i in range(WRITES):
            addr = f"10.{200 + i // 65536 % 50}.{i // 256 % 256}.{i % 256}"
            want = socket.inet_aton(addr)
            t0 = time.perf_counter()
            status, body = request("PUT", "/v1/services/lat", {"type": "A", "records": [addr], "ttl": 5}, conn)
            t1 = time.perf_counter()
            if status != 200:
                errors += 1
                log(f"PUT {i}: HTTP {status} {body[:200]!r}")
                continue
            put_ms.append((t1 - t0) * 1000)
            while True:
                polls += 1
                got = dns_ask(s, f"lat.{ZONE}")
                if got == {want}:
                    break
                if time.perf_counter() - t1 > 5:
                    raise RuntimeError(f"{addr} not in DNS 5 s after the API's 200")
            visible_ms.append((time.perf_counter() - t1) * 1000)
    finally:
        conn.close()
        s.close()
        os.sched_setaffinity(0, set(range(os.cpu_count())))
    return {"writes": WRITES, "errors": errors, "polls_per_write": polls / max(1, len(visible_ms)),
            "put_p50_ms": pct(put_ms, 50), "put_p99_ms": pct(put_ms, 99),
            "visible_p50_ms": pct(visible_ms, 50), "visible_p99_ms": pct(visible_ms, 99),
            "visible_max_ms": max(visible_ms) if visible_ms else None}


# ---------------------------------------------------------------- (b) writes/s

def parse_wrk(out):
    res = {"rps": None, "non2xx": 0, "requests": None, "socket_errors": 0, "p50_ms": None, "p99_ms": None}
    for line in out.splitlines():
        w = line.split()
        if line.startswith("Requests/sec:"):
            res["rps"] = float(w[1])
        elif "requests in" in line:
            res["requests"] = int(w[0])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            res["non2xx"] = int(w[-1])
        elif line.strip().startswith("Socket errors:"):
            res["socket_errors"] = sum(int(x.rstrip(",")) for x in w[2::2] if x.rstrip(",").isdigit())
        elif len(w) == 2 and w[0] in ("50%", "99%"):
            v = w[1]
            ms = (float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us")
                  else float(v[:-1]) * 1000 if v.endswith("s") else None)
            res["p50_ms" if w[0] == "50%" else "p99_ms"] = ms
    return res


def measure_wrk(work, seconds=SECONDS, prefix="w"):
    lua = work / "put.lua"
    lua.write_text(WRK_LUA)
    argv = taskset(CLIENT_CPU) + ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                                  "-s", str(lua), f"http://127.0.0.1:{API_PORT}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60,
                       env=dict(os.environ, DNSBOX_BENCH_TOKEN=TOKEN, DNSBOX_BENCH_PREFIX=prefix))
    (work / "wrk.txt").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        raise RuntimeError(f"wrk exited with {r.returncode}: {r.stderr.strip()[:300]}")
    res = parse_wrk(r.stdout)
    res["generator"] = f"wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s"
    res["ok"] = (res["requests"] or 0) - res["non2xx"]
    return res


def measure_python():
    """Threads with a keep-alive connection each, PUTting new services."""
    stop = time.monotonic() + SECONDS
    counts, bad, lat = [], [], []

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=10)
        n = ok = 0
        mine = []
        try:
            while time.monotonic() < stop:
                n += 1
                t0 = time.perf_counter()
                st, _ = request("PUT", f"/v1/services/p{k}-{n}",
                                {"type": "A", "records": [f"10.{k % 256}.{n // 256 % 256}.{n % 256}"], "ttl": 5},
                                conn)
                mine.append((time.perf_counter() - t0) * 1000)
                ok += st == 200
        except OSError as e:
            bad.append(str(e))
        finally:
            conn.close()
            counts.append((n, ok))
            lat.extend(mine)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(CONNECTIONS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t0
    total, ok = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return {"generator": f"python http.client, {CONNECTIONS} threads, {SECONDS} s (wrk missing: a floor)",
            "rps": total / elapsed, "requests": total, "non2xx": total - ok, "ok": ok,
            "socket_errors": len(bad), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


def measure_writes(work, procs):
    c0 = {k: cpu_seconds(tree(p.pid))[1] for k, p in procs.items()}
    t0 = time.monotonic()
    res = measure_wrk(work) if shutil.which("wrk") else measure_python()
    wall = time.monotonic() - t0
    for k, p in procs.items():
        res[f"{k}_cpu_pct"] = (cpu_seconds(tree(p.pid))[1] - c0[k]) / wall * 100
    res["server_cpu_pct"] = sum(res[f"{k}_cpu_pct"] for k in procs)
    res["rss_kib"] = sum(memory_kib(tree(p.pid))[0] for p in procs.values())
    status, body = request("GET", "/v1/services")
    res["stored"] = len(json.loads(body)["services"]) - 1 if status == 200 else None  # minus "lat"
    return res


# ---------------------------------------------------------------- (c) a big zone

def prefill():
    """SERVICES services in one bulk write (/v1/state); the time until the
    last one answers (one whole compile of the zone)."""
    services = {f"big{i}": {"type": "A", "records": [f"10.{100 + i // 65536 % 100}.{i // 256 % 256}.{i % 256}"],
                            "ttl": 5} for i in range(SERVICES)}
    last = SERVICES - 1
    want = socket.inet_aton(f"10.{100 + last // 65536 % 100}.{last // 256 % 256}.{last % 256}")
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", API_PORT, timeout=120)
    try:
        status, body = request("PUT", f"/v1/state?zone={ZONE}", {"services": services}, conn)
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"bulk PUT of {SERVICES} services: HTTP {status} {body[:200]!r}")
    t1 = time.perf_counter()
    with socket_for_dns() as s:
        while dns_ask(s, f"big{last}.{ZONE}") != {want}:
            if time.perf_counter() - t1 > 120:
                raise RuntimeError(f"big{last} not in DNS 120 s after the bulk write")
            time.sleep(0.01)
    visible = time.perf_counter() - t1
    # dnsd compiles a zone under a layer once the writes pause (5 s): the
    # growth below starts from the compiled 100,000-service zone.
    time.sleep(COMPACT_WAIT)
    return {"services": SERVICES, "put_s": t1 - t0, "visible_s": visible}


def measure_growth(work, procs):
    """SLICES wrk runs of SLICE_SECONDS back to back on the big zone, each
    adding new services: PUT/s of the first and the last slice."""
    slices = []
    for k in range(SLICES):
        c0 = {n: cpu_seconds(tree(p.pid))[1] for n, p in procs.items()}
        t0 = time.monotonic()
        r = measure_wrk(work, SLICE_SECONDS, prefix=f"g{k}x")
        wall = time.monotonic() - t0
        for n, p in procs.items():
            r[f"{n}_cpu_pct"] = (cpu_seconds(tree(p.pid))[1] - c0[n]) / wall * 100
        slices.append(r)
    status, body = request("GET", f"/v1/services?zone={ZONE}")
    stored = len(json.loads(body)["services"]) if status == 200 else None
    return {"slices": slices, "stored": stored, "rss_kib": {n: memory_kib(tree(p.pid))[0] for n, p in procs.items()}}


# ---------------------------------------------------------------- main

def coredns():
    return shutil.which("coredns")


def report(lat, put, load0, bin_note, big=None, lat_big=None, growth=None):
    lines = []
    p = lines.append
    p(f"dnsbox API bench {time.strftime('%Y-%m-%d %H:%M:%S')}  ({os.uname().machine}, {os.cpu_count()} CPUs; "
      f"{DNSBOX}{bin_note})")
    p(f"dnsd + apictl serve on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}; zone {ZONE} (dynamic), "
      f"rate_limit 0, audit off; load average {load0} at start, {os.getloadavg()[0]:.2f} at end")
    peer = coredns()
    p("peer: " + (f"{peer} found, but no dynresolve build is driven by this bench: absolute figures only"
                  if peer else "none (no CoreDNS with dynresolve on this machine): absolute figures and targets"))
    p("")
    f = bench.fmt
    p(f"{'(a) write -> DNS, ' + str(lat['writes']) + ' sequential PUTs':<44} {'p50':>8} {'p99':>8} {'max':>8}")
    p("-" * 71)
    p(f"{'PUT round trip, ms':<44} {f(lat['put_p50_ms'], '8.2f')} {f(lat['put_p99_ms'], '8.2f')} {'':>8}")
    p(f"{'200 -> new address answers (UDP), ms':<44} {f(lat['visible_p50_ms'], '8.2f')} "
      f"{f(lat['visible_p99_ms'], '8.2f')} {f(lat['visible_max_ms'], '8.2f')}")
    p(f"  failed PUTs {lat['errors']}; DNS queries per write {lat['polls_per_write']:.1f}")
    p("")
    p(f"(b) writes/s, a new service per PUT: {put['generator']}")
    p("-" * 71)
    p(f"{'PUT/s':<44} {f(put['rps'], '8.0f')}")
    p(f"{'PUT latency p50 / p99, ms':<44} {f(put['p50_ms'], '8.2f')} {f(put['p99_ms'], '8.2f')}")
    p(f"{'requests / 200s / non-2xx / socket errors':<44} {put['requests']} / {put['ok']} / {put['non2xx']} / "
      f"{put['socket_errors']}")
    p(f"{'services in the store after':<44} {put['stored']}   (wrk does not count the requests in flight at its end)")
    p(f"{'server CPU (dnsd + apictl), % of one CPU':<44} {f(put['server_cpu_pct'], '8.0f')}   "
      f"(dnsd {f(put.get('dnsd_cpu_pct'), '.0f')}, apictl {f(put.get('apictl_cpu_pct'), '.0f')})")
    p(f"{'RSS after (dnsd + apictl), KiB':<44} {put['rss_kib']:>8}")
    if big:
        p("")
        p(f"(c) the zone with {big['services']:,} services (one bulk PUT /v1/state)")
        p("-" * 71)
        p(f"{'bulk PUT, s / then its last name answers, s':<44} {big['put_s']:8.2f} {big['visible_s']:8.2f}")
        p(f"{'write -> DNS, ' + str(lat_big['writes']) + ' PUTs: p50 / p99 / max, ms':<44} "
          f"{f(lat_big['visible_p50_ms'], '8.2f')} {f(lat_big['visible_p99_ms'], '8.2f')} {f(lat_big['visible_max_ms'], '8.2f')}")
        rates = [sl["rps"] or 0 for sl in growth["slices"]]
        p(f"{'PUT/s per ' + str(SLICE_SECONDS) + ' s slice, first .. last':<44} " + " ".join(f"{r:.0f}" for r in rates))
        p(f"{'dnsd CPU per slice, % of one CPU':<44} " + " ".join(f"{sl['dnsd_cpu_pct']:.0f}" for sl in growth["slices"]))
        p(f"{'apictl CPU per slice, % of one CPU':<44} " + " ".join(f"{sl['apictl_cpu_pct']:.0f}" for sl in growth["slices"]))
        p(f"{'services after / RSS dnsd, apictl KiB':<44} {growth['stored']} / {growth['rss_kib'].get('dnsd')}, "
          f"{growth['rss_kib'].get('apictl')}")
    p("")
    p("targets (issue):")
    v = lat["visible_p99_ms"]
    p(f"{'write -> DNS p99 (ms)':<48} {f(v, '7.2f')}   target <= {TARGET_P99_MS:<5g} "
      f"{'-' if v is None else 'ok' if v <= TARGET_P99_MS and not lat['errors'] else 'MISSED'}")
    v = put["rps"]
    floor = "" if shutil.which("wrk") else "  (python load generator: a floor)"
    p(f"{'API PUT/s':<48} {f(v, '7.0f')}   target >= {TARGET_PUTS:<5g} "
      f"{'-' if v is None else 'ok' if v >= TARGET_PUTS and not put['non2xx'] else 'MISSED'}{floor}")
    if big:
        v = lat_big["visible_p99_ms"]
        p(f"{'write -> DNS p99 at ' + str(big['services']) + ' services (ms)':<48} {f(v, '7.2f')}   target <= {TARGET_P99_MS:<5g} "
          f"{'-' if v is None else 'ok' if v <= TARGET_P99_MS and not lat_big['errors'] else 'MISSED'}")
        rates = [sl["rps"] or 0 for sl in growth["slices"]]
        g = rates[-1] / rates[0] if rates and rates[0] else None
        p(f"{'PUT/s last slice / first slice':<48} {f(g, '7.2f')}   target >= {TARGET_GROWTH:<5g} "
          f"{'-' if g is None else 'ok' if g >= TARGET_GROWTH else 'MISSED'}")
    p(f"{'ratio to CoreDNS dynresolve':<48}       -   (no peer)")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"api-{stamp}.txt").write_text(text)
    (OUT / f"api-{stamp}.json").write_text(json.dumps(
        {"settings": {"writes": WRITES, "seconds": SECONDS, "connections": CONNECTIONS, "threads": THREADS,
                      "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU, "dnsbox": str(DNSBOX)},
         "latency": lat, "writes": put, "big": big, "latency_big": lat_big, "growth": growth}, indent=1))
    shutil.copy(OUT / f"api-{stamp}.txt", OUT / "latest-api.txt")
    shutil.copy(OUT / f"api-{stamp}.json", OUT / "latest-api.json")
    log(f"written to {OUT}/api-{stamp}.txt and .json (also latest-api.txt/.json)")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dnsbox-bench-api-"))
    procs = {}
    try:
        load0 = f"{os.getloadavg()[0]:.2f}"
        b0 = machine_busy()
        time.sleep(1)
        if machine_busy() - b0 > 0.1:
            log(f"warning: {(machine_busy() - b0) * 100:.0f}% of a CPU busy before the start: "
                "other work competes for the CPUs and skews the numbers")
        if not shutil.which("wrk"):
            log("wrk missing: writes/s from a Python load generator instead (a floor)")
        conf = write_config(work)
        procs = start(work, conf)
        log(f"dnsd on 127.0.0.1:{DNS_PORT}, apictl on 127.0.0.1:{API_PORT}; (a) {WRITES} PUTs, "
            f"(b) {SECONDS} s x {CONNECTIONS} connections")
        lat = measure_latency()
        put = measure_writes(work, procs)
        big = lat_big = growth = None
        if SERVICES > 0 and shutil.which("wrk"):
            big = prefill()
            log(f"{SERVICES} services: bulk PUT {big['put_s']:.2f} s, answering {big['visible_s']:.2f} s later")
            lat_big = measure_latency()
            growth = measure_growth(work, procs)
        bin_note = "; a debug build" if "/debug/" in str(DNSBOX) else ""
        report(lat, put, load0, bin_note, big, lat_big, growth)
        return 0
    finally:
        stop(procs)
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    def on_signal(sig, _):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
    except RuntimeError as e:
        log(f"failed: {e}")
        sys.exit(1)
