#!/usr/bin/env bash
# `make bench`: dnsbox dnsd against NSD and Knot on loopback (authoritative,
# scripts/bench/bench.py), then as a caching forwarder against unbound and
# dnsmasq (scripts/bench/bench_forward.py), then dnsbox dhcpd against Kea and
# dnsmasq driven by perfdhcp between two network namespaces
# (scripts/bench/bench_dhcp.py), then the HTTP API: write -> DNS latency and
# PUT/s with wrk (scripts/bench/bench_api.py; no peer: absolute figures).
# Each prints a table (medians) and the
# issue's target ratios, and writes them to .build/bench/
# (bench-STAMP.txt/.json, latest.txt; forward-STAMP.txt/.json,
# latest-forward.txt; dhcp-STAMP.txt/.json, latest-dhcp.txt; api-STAMP.txt/.json,
# latest-api.txt). Skips, saying
# why, what cannot run: not root, or nsd/knotd/unbound/dnsmasq/dnsperf/
# kea-dhcp4/perfdhcp/ip/taskset missing (wrk missing: a Python load generator).
#
# Knobs (defaults = the full run on 2 CPUs: about 8 min authoritative, 7 forwarder,
# 8-9 DHCP):
#   BENCH_ONLY=auth|forward|dhcp|api (default: all four, in that order)
#   BENCH_RUNS=3 BENCH_SECONDS=20 (fixed load, -l) BENCH_QPS=50000 (-Q)
#   BENCH_MAX_SECONDS=10 (unthrottled) BENCH_CLIENTS=4 BENCH_OUTSTANDING=200
#   BENCH_SERVERS=dnsbox,nsd,knot BENCH_CALLGRIND=dnsbox,nsd,knot ('' = none,
#     for both benches) BENCH_CG_QUERIES=20000 BENCH_CG_QPS=2000
#   BENCH_BIG_RECORDS=100000 BENCH_HUGE_RECORDS=1000000 (0 = skip) BENCH_RELOAD_QPS=20000
#     BENCH_RELOAD_SECONDS=8 (dnsbox's reload of the 1M zone under dnsperf load)
#   BENCH_SERVER_CPU=0 BENCH_CLIENT_CPU=1 BENCH_PORT=25300 BENCH_OUT=.build/bench
#   forwarder: BENCH_FORWARDERS=dnsbox,unbound,dnsmasq
#     BENCH_FWD_CALLGRIND=dnsbox,unbound,dnsmasq BENCH_CACHE_SIZE=10000
#     BENCH_MISS_QPS=5000 BENCH_MISS_QUERIES=BENCH_CACHE_SIZE-1000-names
#     BENCH_WARM_QPS=2000 BENCH_UPSTREAM_CPU=BENCH_CLIENT_CPU
#     BENCH_FORWARD_PORT=BENCH_PORT+20
#   DHCP: BENCH_DHCP_SERVERS=dnsbox,kea,dnsmasq BENCH_DHCP_SECONDS=15 (per rate step)
#     BENCH_DHCP_RATES=250,500,1000,2000,4000,6000,8000,10000,12000,14000,16000,20000,24000
#     BENCH_DHCP_REFINE=2 (bisection steps after the first failure) BENCH_DHCP_RUNS=1
#     BENCH_DHCP_DROP_PCT=1 BENCH_DHCP_CLIENTS=50000 (-R) BENCH_DHCP_PREFILLED=1
#     BENCH_DHCP_THREADS=single (perfdhcp -g) BENCH_DHCP_WAIT_US=250000 (perfdhcp -W)
#     BENCH_DHCP_CLIENT_BUF_DROPS=1 (0: replies lost in perfdhcp's socket buffer do not fail a step)
#     BENCH_DHCP_NS=dnsbox-bench-dhcp (namespaces NAME-s, NAME-c)
#   API: BENCH_API_WRITES=1000 (sequential PUTs, write -> DNS) BENCH_API_SECONDS=10
#     BENCH_API_CONNECTIONS=32 BENCH_API_THREADS=2 (wrk) BENCH_API_DNS_PORT=BENCH_PORT+40
#     BENCH_API_PORT=BENCH_API_DNS_PORT+1 BENCH_API_SERVICES=100000 (the big zone, one bulk
#     PUT; 0 = skip) BENCH_API_SLICES=10 BENCH_API_SLICE_SECONDS=2 (wrk runs adding services to it)
#   DNSBOX_BIN=out/x86_64/dnsbox: the shipped build (static musl, Embedded Swift),
#     rebuilt with `make firmware ARCH=x86_64` when a source is newer; set
#     DNSBOX_BIN=.build/release/dnsbox to measure the host build instead (an
#     existing DNSBOX_BIN is used as it is, never rebuilt).
# Quick: BENCH_RUNS=1 BENCH_SECONDS=5 BENCH_MAX_SECONDS=3 BENCH_CG_QUERIES=5000 BENCH_DHCP_SECONDS=5 make bench
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "bench: skipped: $*" >&2; exit 0; }

only=${BENCH_ONLY:-}
case "$only" in
  ""|auth|forward|dhcp|api) ;;
  *) echo "bench: BENCH_ONLY=$only: expected auth, forward, dhcp or api (or unset: all four)" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || skip "needs root (nsd, knot, unbound, dnsmasq, kea, dnsperf and perfdhcp come from apt via scripts/setup.sh; the servers run as root, without chroot or user switch; the DHCP bench creates network namespaces)"
missing() {
  local m=() t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || m+=("$t")
  done
  echo "${m[*]}"
}
run_auth= run_forward= run_dhcp= run_api= why=()
if [ -z "$only" ] || [ "$only" = auth ]; then
  m=$(missing nsd knotd dnsperf taskset python3)
  if [ -z "$m" ]; then run_auth=1
  else why+=("authoritative bench: missing $m (apt-get install nsd knot dnsperf util-linux, or run scripts/setup.sh)"); fi
fi
if [ -z "$only" ] || [ "$only" = forward ]; then
  m=$(missing nsd unbound dnsmasq dnsperf taskset python3)
  if [ -z "$m" ]; then run_forward=1
  else why+=("forwarder bench: missing $m (apt-get install nsd unbound dnsmasq-base dnsperf util-linux, or run scripts/setup.sh)"); fi
fi
if [ -z "$only" ] || [ "$only" = dhcp ]; then
  m=$(missing kea-dhcp4 perfdhcp dnsmasq ip taskset python3)
  if [ -z "$m" ]; then run_dhcp=1
  else why+=("DHCP bench: missing $m (apt-get install kea-dhcp4-server kea-admin dnsmasq-base iproute2 util-linux, or run scripts/setup.sh)"); fi
fi
if [ -z "$only" ] || [ "$only" = api ]; then
  m=$(missing python3)
  if [ -z "$m" ]; then run_api=1
  else why+=("API bench: missing $m"); fi
fi
[ -n "$run_auth$run_forward$run_dhcp$run_api" ] || skip "${why[*]}"
for w in ${why[@]+"${why[@]}"}; do echo "bench: skipped: $w" >&2; done
if [ -n "$run_auth$run_forward" ] && [ -n "${BENCH_CALLGRIND-dnsbox,nsd,knot}" ] && ! command -v valgrind >/dev/null 2>&1; then
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

status=0
if [ -n "$run_auth" ]; then
  python3 scripts/bench/bench.py || status=$?
  [ "$status" != 130 ] || exit 130  # interrupted: not on to the next one
fi
if [ -n "$run_forward" ]; then
  python3 scripts/bench/bench_forward.py || status=$?
  [ "$status" != 130 ] || exit 130
fi
if [ -n "$run_dhcp" ]; then
  python3 scripts/bench/bench_dhcp.py || status=$?
  [ "$status" != 130 ] || exit 130
fi
if [ -n "$run_api" ]; then
  python3 scripts/bench/bench_api.py || status=$?
fi
exit "$status"
