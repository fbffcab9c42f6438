#!/usr/bin/env bash
# Builds the firmware binary: every product module compiled as Embedded Swift
# (one swiftc call per module, whole-module, -Osize; -O for FAST_MODULES,
# default "DNS Authority Resolver": the answer path) to LLVM bitcode, the C
# shim and the C libraries compiled for musl by zig, linked statically with
# whole-program LTO of the Swift (scripts/zigld) and stripped.
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

# Product modules in dependency order, from Package.swift (the one list).
mapfile -t MODULES < <(python3 "$ROOT/scripts/modules.py")
FAST_MODULES=${FAST_MODULES-DNS Authority Resolver}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

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

for lib in libsqlite3.a; do
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
# Whole-program LTO (FW_LTO=0: one native object per module, as before): every
# module is compiled to LLVM bitcode and the link optimises and generates code
# for all the Swift at once, with the Swift toolchain's own lld (scripts/zigld;
# zig's lld is a different LLVM). Also builds faster: the stdlib
# specializations every module carries are generated once.
FW_LTO=${FW_LTO-1}
SWIFT_LTO=()
[ "$FW_LTO" = 0 ] || SWIFT_LTO=(-lto=llvm-full)
# lld options (scripts/zigld passes them on; zig's driver rejects them).
# -O2: tail-merged strings. MergeFunctions: functions with identical IR
# become one (a thunk where the address matters). The machine outliner
# (repeated instruction sequences become calls) runs by default on aarch64,
# for size-optimised functions only; x86_64 has to ask for it, and then it
# covers every function, the answer path too (x86_64 -150 KB; still 3 % fewer
# instructions per answered query than the build without LTO).
# --icf=safe: identical sections folded where no address is compared (the
# C's and the libraries' twins MergeFunctions never sees; x86_64 -2.3 KB).
LLD_FLAGS=(-O2 --icf=safe -mllvm -enable-merge-functions)
case "$ARCH" in x86_64) LLD_FLAGS+=(-mllvm -enable-machine-outliner) ;; esac
# FW_LLD_FLAGS: more lld options for a look inside (e.g. --why-extract=FILE).
# shellcheck disable=SC2206
LLD_FLAGS+=(${FW_LLD_FLAGS:-})
XLLD=()
for f in "${LLD_FLAGS[@]}"; do XLLD+=(-Xlld "$f"); done
# The C shim. Nothing in the firmware unwinds (Embedded Swift traps, musl C
# never throws): no unwind tables (Swift objects have none either).
CFLAGS_FW=(-Os -ffunction-sections -fdata-sections -fno-unwind-tables -fno-asynchronous-unwind-tables)
# The link. no-eh-frame.ld discards the .eh_frame that zig's own musl, libzigc
# and compiler_rt carry (zig builds them with unwind tables whatever we ask),
# and with it .eh_frame_hdr.
LDFLAGS_FW=(-static -Wl,--gc-sections -Wl,-T,"$ROOT/scripts/no-eh-frame.ld")

t0=$(date +%s.%N)
# Objects built with other flags are rebuilt.
flags_id="${SWIFT_LTO[*]} fast=$FAST_MODULES"
if [ "$(cat "$B/.swift-flags" 2>/dev/null)" != "$flags_id" ]; then
  rm -f "$B"/*.o; echo "$flags_id" >"$B/.swift-flags"
fi
# Each module is compiled by `swift_module` below; make decides what is
# stale (a module's sources, its directories, the shim headers, or a module
# it depends on changed) and runs independent modules in parallel.
swift_module() { # NAME SOURCES...
  local m="$1"; shift
  # The DNS answer path (wire format and answer engine) is built for speed;
  # everything else for size.
  local opt=-Osize
  case " $FAST_MODULES " in *" $m "*) opt=-O ;; esac
  echo "  SWIFT  $m ($opt)"
  "$SWIFTC" -target "$SWIFT_TARGET" -enable-experimental-feature Embedded \
    -wmo "$opt" $SWIFT_LTO_FLAG -parse-as-library -Xfrontend -function-sections \
    "${XCC[@]}" -I "$ROOT/Sources/CShim/include" -I "$B" \
    -module-name "$m" -emit-module -emit-module-path "$B/$m.swiftmodule" \
    -c "$@" -o "$B/$m.o.tmp"
  mv "$B/$m.o.tmp" "$B/$m.o"
}
python3 "$ROOT/scripts/modules.py" --make "$B" > "$B/modules.mk"
export -f swift_module
SWIFT_LTO_FLAG="${SWIFT_LTO[*]}"
export SWIFTC SWIFT_TARGET ROOT B FAST_MODULES SWIFT_LTO_FLAG
XCC_LINE=$(printf '%q ' "${XCC[@]}")
export XCC_LINE
make --no-print-directory -s -j"$JOBS" -f "$B/modules.mk" \
  SWIFT_MODULE='bash -c '"'"'eval "XCC=($$XCC_LINE)"; swift_module "$$@"'"'"' --' \
  SHIM_HEADERS="$(echo "$ROOT"/Sources/CShim/include/*.h)"
t1=$(date +%s.%N)

for c in "$ROOT"/Sources/CShim/*.c; do
  o="$B/shim/$(basename "$c" .c).o"
  echo "  CC     $(basename "$c")"
  "$ZIGCC" -target "$ZIG_TARGET" "${CFLAGS_FW[@]}" -D_GNU_SOURCE -DDX_UNICODE_STUBS \
    -I "$ROOT/Sources/CShim/include" -I "$DEPS/include" -c "$c" -o "$o"
done

echo "  LINK   out/$ARCH/dnsbox"
# FAST_MODULES first: every module object carries its own copy of the
# Embedded runtime (swift_retain, swift_release, swift_allocObject, …) and of
# the stdlib specializations it uses, and lld keeps the first one it sees, so
# the answer path gets the -O copies. (Without LTO: +6 KB on x86_64, +2.5 KB on
# aarch64, and outlined copies of swift_release cost 0.5 % more instructions
# per query; with LTO it is also 10 KB smaller than the source order.)
OBJS=()
for m in $FAST_MODULES; do OBJS+=("$B/$m.o"); done
for m in "${MODULES[@]}"; do
  case " $FAST_MODULES " in *" $m "*) ;; *) OBJS+=("$B/$m.o") ;; esac
done
# zig's driver rejects -Map; --print-map writes the same lld map to stdout.
"$ROOT/scripts/zigld" --lld "$TOOLCHAIN/bin/ld.lld" "${XLLD[@]}" \
  -target "$ZIG_TARGET" "${LDFLAGS_FW[@]}" -Wl,--print-map \
  "${OBJS[@]}" "$B"/shim/*.o \
  "$DEPS/lib/libsqlite3.a" \
  -o "$OUT/dnsbox.unstripped" > "$OUT/dnsbox.map"
"$OBJCOPY" --strip-all "$OUT/dnsbox.unstripped" "$OUT/dnsbox"
t2=$(date +%s.%N)
awk -v a="$ARCH" -v s="$(stat -c %s "$OUT/dnsbox")" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
  'BEGIN { printf "firmware: out/%s/dnsbox %d bytes (swift %.1fs, c+link %.1fs)\n", a, s, t1 - t0, t2 - t1 }' 
file "$OUT/dnsbox"
