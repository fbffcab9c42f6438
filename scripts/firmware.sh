#!/usr/bin/env bash
# Builds the firmware binary: every product module compiled as Embedded Swift
# (one swiftc call per module, whole-module, -Osize; -O for FAST_MODULES,
# default "DNS Authority Resolver": the answer path), the C shim and the C
# libraries compiled for musl by zig, linked statically and stripped.
#   scripts/firmware.sh ARCH         (ARCH = aarch64 | x86_64)
# Output: out/ARCH/dnsbox (stripped), out/ARCH/dnsbox.unstripped, out/ARCH/dnsbox.map
set -euo pipefail
ARCH=${1:?usage: scripts/firmware.sh aarch64|x86_64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

case "$ARCH" in
  aarch64) SWIFT_TARGET=aarch64-none-none-elf; ZIG_TARGET=aarch64-linux-musl ;;
  x86_64)  SWIFT_TARGET=x86_64-unknown-none-elf; ZIG_TARGET=x86_64-linux-musl ;;
  *) echo "firmware: unknown ARCH '$ARCH' (aarch64 | x86_64)" >&2; exit 2 ;;
esac

# Product modules in dependency order. Keep in sync with Package.swift.
MODULES=(Config DNS Zone Authority Sys Runtime Store Resolver DHCP HTTP API Applets dnsbox)
FAST_MODULES=${FAST_MODULES-DNS Authority Resolver}

SWIFTC=$(command -v swiftc)
TOOLCHAIN=$(dirname "$(dirname "$(readlink -f "$SWIFTC")")")
EMBEDDED_LIB="$TOOLCHAIN/lib/swift/embedded/$SWIFT_TARGET"
OBJCOPY="$TOOLCHAIN/bin/llvm-objcopy"
ZIGLIB=$(python3 -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "lib"))')
DEPS="$ROOT/.build-fw-deps/$ARCH"
B="$ROOT/.build-fw-$ARCH"
OUT="$ROOT/out/$ARCH"
export ZIG_TARGET
ZIGCC="$ROOT/scripts/zigcc"

for lib in libsqlite3.a libnl-3.a libnl-route-3.a libcap.a; do
  [ -f "$DEPS/lib/$lib" ] || { echo "firmware: $DEPS/lib/$lib missing: run scripts/build-deps.sh $ARCH" >&2; exit 1; }
done
mkdir -p "$B/shim" "$OUT"

# Clang flags for the musl headers zig carries (no host glibc headers).
CFLAGS_MUSL=(-nostdinc
  -isystem "$ZIGLIB/libc/include/$ARCH-linux-musl"
  -isystem "$ZIGLIB/libc/include/generic-musl"
  -isystem "$ZIGLIB/libc/include/$ARCH-linux-any"
  -isystem "$ZIGLIB/libc/include/any-linux-any"
  -isystem "$ZIGLIB/include"
  -D__linux__ -I "$DEPS/include")
XCC=()
for f in "${CFLAGS_MUSL[@]}"; do XCC+=(-Xcc "$f"); done
# Swift modules built for size (-Osize) also get LLVM's machine outliner
# (repeated instruction sequences become calls): -27 KB on x86_64. On aarch64
# LLVM already outlines every size-optimised function; on x86_64 it has to be
# asked for. Not for NO_OUTLINE_MODULES: Applets holds dnsd's UDP worker loop,
# and outlining it costs 0.6 % more instructions per answered query.
case "$ARCH" in
  x86_64) SWIFT_SIZE_FLAGS=(-Xllvm -enable-machine-outliner) ;;
  *)      SWIFT_SIZE_FLAGS=() ;;
esac
NO_OUTLINE_MODULES=${NO_OUTLINE_MODULES-Applets}
# The C shim. Nothing in the firmware unwinds (Embedded Swift traps, musl C
# never throws): no unwind tables (Swift objects have none either).
CFLAGS_FW=(-Os -ffunction-sections -fdata-sections -fno-unwind-tables -fno-asynchronous-unwind-tables)
# The link. no-eh-frame.ld discards the .eh_frame that zig's own musl, libzigc
# and compiler_rt carry (zig builds them with unwind tables whatever we ask),
# and with it .eh_frame_hdr.
LDFLAGS_FW=(-static -Wl,--gc-sections -Wl,-T,"$ROOT/scripts/no-eh-frame.ld")

t0=$(date +%s.%N)
# A module is rebuilt when one of its sources, the C shim header or a module
# it may import changed since its object was written.
stale=0
for m in "${MODULES[@]}"; do
  if [ "$stale" = 0 ] && [ -f "$B/$m.o" ] && [ -f "$B/$m.swiftmodule" ] && \
     [ -z "$(find "$ROOT/Sources/$m" "$ROOT/Sources/CShim/include" -newer "$B/$m.o" -print -quit)" ]; then
    continue
  fi
  stale=1 # later modules may import this one: rebuild them too
  # The DNS answer path (wire format and answer engine) is built for speed;
  # everything else for size.
  opt=-Osize; optflags=(-Osize "${SWIFT_SIZE_FLAGS[@]}")
  case " $NO_OUTLINE_MODULES " in *" $m "*) optflags=(-Osize) ;; esac
  case " $FAST_MODULES " in *" $m "*) opt=-O; optflags=(-O) ;; esac
  echo "  SWIFT  $m ($opt)"
  "$SWIFTC" -target "$SWIFT_TARGET" -enable-experimental-feature Embedded \
    -wmo "${optflags[@]}" -parse-as-library -Xfrontend -function-sections \
    "${XCC[@]}" -I "$ROOT/Sources/CShim/include" -I "$B" \
    -module-name "$m" -emit-module -emit-module-path "$B/$m.swiftmodule" \
    -c "$ROOT"/Sources/"$m"/*.swift -o "$B/$m.o"
done
t1=$(date +%s.%N)

for c in "$ROOT"/Sources/CShim/*.c; do
  o="$B/shim/$(basename "$c" .c).o"
  echo "  CC     $(basename "$c")"
  "$ZIGCC" -target "$ZIG_TARGET" "${CFLAGS_FW[@]}" -D_GNU_SOURCE \
    -I "$ROOT/Sources/CShim/include" -I "$DEPS/include" -c "$c" -o "$o"
done

echo "  LINK   out/$ARCH/dnsbox"
# FAST_MODULES first: every module object carries its own copy of the
# Embedded runtime (swift_retain, swift_release, swift_allocObject, …) and of
# the stdlib specializations it uses, and lld keeps the first one it sees, so
# the answer path gets the -O copies, not outlined ones (+6 KB on x86_64,
# +2.5 KB on aarch64; without it the outliner costs 0.5 % more instructions
# per answered query on x86_64 through swift_release alone).
OBJS=()
for m in $FAST_MODULES; do OBJS+=("$B/$m.o"); done
for m in "${MODULES[@]}"; do
  case " $FAST_MODULES " in *" $m "*) ;; *) OBJS+=("$B/$m.o") ;; esac
done
# zig's driver rejects -Map; --print-map writes the same lld map to stdout.
"$ZIGCC" -target "$ZIG_TARGET" "${LDFLAGS_FW[@]}" -Wl,--print-map \
  "${OBJS[@]}" "$B"/shim/*.o \
  "$DEPS/lib/libsqlite3.a" "$DEPS/lib/libnl-route-3.a" "$DEPS/lib/libnl-3.a" "$DEPS/lib/libcap.a" \
  "$EMBEDDED_LIB/libswiftUnicodeDataTables.a" \
  -o "$OUT/dnsbox.unstripped" > "$OUT/dnsbox.map"
"$OBJCOPY" --strip-all "$OUT/dnsbox.unstripped" "$OUT/dnsbox"
t2=$(date +%s.%N)
awk -v a="$ARCH" -v s="$(stat -c %s "$OUT/dnsbox")" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
  'BEGIN { printf "firmware: out/%s/dnsbox %d bytes (swift %.1fs, c+link %.1fs)\n", a, s, t1 - t0, t2 - t1 }' 
file "$OUT/dnsbox"
