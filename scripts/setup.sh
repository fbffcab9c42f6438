#!/usr/bin/env bash
# Installs what dnsbox needs on a fresh Debian (bookworm) machine. Idempotent:
# each step checks first, so a second run does nothing and takes ~1 s.
# Root installs system packages; as non-root it only reports what is missing.
set -euo pipefail

APT_PKGS=(
  # host build
  libsqlite3-dev pkg-config
  # firmware build: Debian sources of the C libraries, their build tools
  dpkg-dev make gcc file binutils tcl
  # firmware smoke test and image check
  qemu-user-static skopeo
  # system tests and real peers
  python3-pytest dnsutils iproute2 sqlite3 busybox procps
  bind9-utils knot knot-dnsutils knot-dnssecutils
  # benchmark peers and load generator (make bench)
  nsd dnsperf
  # DHCP bench peer and load generator (kea-admin brings perfdhcp)
  kea-dhcp4-server kea-admin
  # forwarding peers: upstream in system tests, cache-hit rivals in make bench
  unbound dnsmasq-base
  # DHCP clients for dhcpd system tests
  isc-dhcp-client dhcpcd-base
  # HTTP API: client and CGI host in system tests, load generator in make bench
  curl lighttpd wrk
  # ISC's DNS compliance tester genreport, built from ../shared/vendor by the
  # conformance system tests (needs gcc, make and pkg-config above as well)
  autoconf automake libtool libssl-dev
)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pip for the python3 on PATH (the one the Makefile and scripts run).
pip_install() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "setup: python3 has no pip (run as root to install python3-pip)" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  # A distribution python (PEP 668, "externally managed") needs the override.
  python3 -m pip install -q "$@" 2>/dev/null || python3 -m pip install -q --break-system-packages "$@"
}

# zig (C compiler + musl for the firmware), from PyPI, at the version the
# firmware recipe was proven with.
ZIGLANG_VERSION=0.17.1
if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("ziglang"))' 2>/dev/null)" != "$ZIGLANG_VERSION" ]; then
  echo "setup: pip install ziglang==$ZIGLANG_VERSION"
  pip_install "ziglang==$ZIGLANG_VERSION"
fi
# pytest for the system tests, in the python3 that runs them.
if ! python3 -c 'import pytest' 2>/dev/null; then
  pip_install pytest
fi
# prometheus_client: its parser checks the API's /metrics in the system tests.
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  pip_install prometheus_client
fi
# dnspython: builds the broken transfer streams a fake primary sends in the
# transfer system tests (and reads TSIG-signed messages there).
if ! python3 -c 'import dns.message' 2>/dev/null; then
  pip_install dnspython
fi
exit 0
