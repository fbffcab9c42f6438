#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (STYLE.md habit 12).
#
#   scripts/fuzz.sh [TARGET] [SECONDS]      default: uci 60
#
# Builds Tests/fuzz/TARGET/*.swift together with the sources it fuzzes as one
# module (swiftc -sanitize=fuzzer,address) into .build-fuzz/TARGET (the C
# target `netlink`: Tests/fuzz/netlink/*.c with the shim's parser, clang with
# ASan and UBSan), then runs
# it for SECONDS on a copy of the committed corpus (Tests/fuzz/TARGET/corpus),
# so a run never dirties the repo. Crash reproducers are written to
# Tests/fuzz/TARGET/crashes/. Exits non-zero when libFuzzer found a crash.
#
# Environment: FUZZ_JOBS (default 1) parallel fuzzing processes;
# FUZZ_ARGS extra libFuzzer flags.
set -euo pipefail

TARGET=${1:-uci}
# The Swift sources of modules, found recursively (a module may have folders).
sources() { for m in "$@"; do find "Sources/$m" -name '*.swift' | sort; done; }
SECONDS_TO_RUN=${2:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

case "$TARGET" in
  uci)
    MODULE=FuzzUCI
    mapfile -t SOURCES < <(sources Core Config)
    ;;
  dns)
    MODULE=FuzzDNS
    mapfile -t SOURCES < <(sources Core DNS)
    ;;
  zone)
    MODULE=FuzzZone
    mapfile -t SOURCES < <(sources Core DNS Zone)
    ;;
  dhcp)
    MODULE=FuzzDHCP
    mapfile -t SOURCES < <(sources Core DHCP)
    ;;
  http)
    MODULE=FuzzHTTP
    mapfile -t SOURCES < <(sources Core HTTP)
    ;;
  xfr)
    # The transfer reader alone: Secondary.swift is sans-I/O (DNS, Zone).
    MODULE=FuzzXfr
    mapfile -t SOURCES < <(sources Core DNS Zone)
    SOURCES+=(Sources/Authority/Secondary.swift)
    ;;
  netlink)
    # C: the rtnetlink parser of the shim, with a C harness (clang, not swiftc).
    LANGUAGE=c
    SOURCES=(Sources/CShim/netlink.c Sources/CShim/include/dx_shim.h)
    ;;
  *)
    echo "fuzz.sh: unknown target '$TARGET' (known: uci, dns, zone, dhcp, http, xfr, netlink)" >&2
    exit 2
    ;;
esac

DIR=Tests/fuzz/$TARGET
OUT=.build-fuzz/$TARGET
BIN=$OUT/$TARGET
mkdir -p "$OUT" "$DIR/crashes"

SWIFTC=$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)
# lld links the sanitizer runtimes without gold's "cannot export local
# symbol" warnings; fall back to the default linker if it is missing.
LD=()
if [ -x "$(dirname "$SWIFTC")/ld.lld" ] || command -v ld.lld >/dev/null; then LD=(-use-ld=lld); fi

# Rebuild only when a source or the harness is newer than the binary.
if [ "${LANGUAGE:-swift}" = c ]; then
  if [ ! -x "$BIN" ] || [ -n "$(find "${SOURCES[@]}" "$DIR"/*.c "$0" -newer "$BIN" -print -quit)" ]; then
    echo "fuzz.sh: building $BIN"
    "$(dirname "$SWIFTC")/clang" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -O1 -g \
      "${LD[@]/-use-ld=/-fuse-ld=}" -D_GNU_SOURCE -I Sources/CShim/include \
      Sources/CShim/netlink.c "$DIR"/*.c -o "$BIN"
  fi
elif [ ! -x "$BIN" ] || [ -n "$(find "${SOURCES[@]}" "$DIR"/*.swift "$0" -newer "$BIN" -print -quit)" ]; then
  echo "fuzz.sh: building $BIN"
  # One module: the sources of several modules are compiled from copies
  # without their imports of each other (the modules named by SOURCES).
  BUILD_SOURCES=()
  rm -rf "$OUT/src" && mkdir -p "$OUT/src"
  pattern="^import ($(for f in "${SOURCES[@]}"; do basename "$(dirname "$f")"; done | sort -u | paste -sd'|'))\$"
  for f in "${SOURCES[@]}"; do
    if grep -qE "$pattern" "$f"; then
      copy="$OUT/src/$(basename "$(dirname "$f")")-$(basename "$f")"
      grep -vE "$pattern" "$f" > "$copy"
      BUILD_SOURCES+=("$copy")
    else
      BUILD_SOURCES+=("$f")
    fi
  done
  "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -swift-version 5 -O -g \
    "${LD[@]}" -module-name "$MODULE" \
    "${BUILD_SOURCES[@]}" "$DIR"/*.swift -o "$BIN"
fi

# Work on a copy of the corpus; new inputs found in this run stay there.
WORK=$OUT/corpus
rm -rf "$WORK"
mkdir -p "$WORK"
cp "$DIR"/corpus/* "$WORK"/

ARGS=(
  -max_total_time="$SECONDS_TO_RUN"
  -dict="$DIR/$TARGET.dict"
  -max_len=4096
  -timeout=10
  -rss_limit_mb=4096
  -print_final_stats=1
  -artifact_prefix="$DIR/crashes/"
)
if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then ARGS+=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS"); fi
# shellcheck disable=SC2206
ARGS+=(${FUZZ_ARGS:-})

# Swift's own crash handler would symbolicate (slowly) before libFuzzer sees
# the signal; let libFuzzer and ASan report instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:symbolize=1}

echo "fuzz.sh: running $BIN for ${SECONDS_TO_RUN}s on $WORK"
set +e
"$BIN" "${ARGS[@]}" "$WORK"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "fuzz.sh: libFuzzer exited $rc; reproducers in $DIR/crashes/:" >&2
  ls -1 "$DIR/crashes" >&2 || true
  exit "$rc"
fi
echo "fuzz.sh: no crash in ${SECONDS_TO_RUN}s"
