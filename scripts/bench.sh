#!/usr/bin/env bash
# `make bench`: dnsbox dnsd against NSD and Knot on loopback (scripts/bench/).
# Prints a table (medians) and the issue's target ratios, and writes them to
# .build/bench/ (bench-STAMP.txt/.json, latest.txt). Skips, saying why, when
# it cannot run: not root, or nsd/knotd/dnsperf/taskset missing.
#
# Knobs (defaults = the full run, about 8 min on 2 CPUs):
#   BENCH_RUNS=3 BENCH_SECONDS=20 (fixed load, -l) BENCH_QPS=50000 (-Q)
#   BENCH_MAX_SECONDS=10 (unthrottled) BENCH_CLIENTS=4 BENCH_OUTSTANDING=200
#   BENCH_SERVERS=dnsbox,nsd,knot BENCH_CALLGRIND=dnsbox,nsd,knot ('' = none)
#   BENCH_CG_QUERIES=20000 BENCH_CG_QPS=2000 BENCH_BIG_RECORDS=100000
#   BENCH_SERVER_CPU=0 BENCH_CLIENT_CPU=1 BENCH_PORT=25300 BENCH_OUT=.build/bench
#   DNSBOX_BIN=out/x86_64/dnsbox: the shipped build (static musl, Embedded Swift),
#     rebuilt with `make firmware ARCH=x86_64` when a source is newer; set
#     DNSBOX_BIN=.build/release/dnsbox to measure the host build instead.
# Quick: BENCH_RUNS=1 BENCH_SECONDS=5 BENCH_MAX_SECONDS=3 BENCH_CG_QUERIES=5000 make bench
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "bench: skipped: $*" >&2; exit 0; }

[ "$(id -u)" = 0 ] || skip "needs root (nsd, knot and dnsperf come from apt via scripts/setup.sh; the servers run as root, without chroot or user switch)"
missing=()
for t in nsd knotd dnsperf taskset python3; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || missing+=("$t")
done
[ ${#missing[@]} -eq 0 ] || skip "missing ${missing[*]} (apt-get install nsd knot dnsperf util-linux, or run scripts/setup.sh)"
if [ -n "${BENCH_CALLGRIND-dnsbox,nsd,knot}" ] && ! command -v valgrind >/dev/null 2>&1; then
  echo "bench: valgrind missing: no callgrind instruction counts" >&2
  export BENCH_CALLGRIND=
fi
cpus=$(nproc)
[ "$cpus" -ge 2 ] || skip "needs 2 CPUs (server and dnsperf pinned apart); this machine has $cpus"

export PATH="$PATH:/usr/sbin:/sbin"
if [ -z "${DNSBOX_BIN:-}" ]; then
  DNSBOX_BIN=$PWD/out/x86_64/dnsbox
  if [ ! -x "$DNSBOX_BIN" ] || [ -n "$(find Sources scripts/firmware.sh -newer "$DNSBOX_BIN" -print -quit)" ]; then
    echo "bench: building the firmware for x86_64 (what ships) into $DNSBOX_BIN"
    make firmware ARCH=x86_64
  fi
elif [ ! -x "$DNSBOX_BIN" ]; then
  echo "bench: building $DNSBOX_BIN"
  swift build -c release --product dnsbox
fi
echo "bench: dnsbox binary: $DNSBOX_BIN"
export DNSBOX_BIN

exec python3 scripts/bench/bench.py
