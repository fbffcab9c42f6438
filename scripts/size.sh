#!/usr/bin/env bash
# Prints the firmware binary size per architecture and each module's or
# library's share, from the linker map (input sections in the output image).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
found=0
for arch in aarch64 x86_64; do
  bin="$ROOT/out/$arch/dnsbox"
  [ -f "$bin" ] || continue
  found=1
  python3 "$ROOT/scripts/size_report.py" "$arch" "$bin" "$ROOT/out/$arch/dnsbox.map"
done
[ $found = 1 ] || { echo "size: no firmware built yet (make firmware ARCH=aarch64)"; exit 1; }
