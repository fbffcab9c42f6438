#!/usr/bin/env bash
# build-deps.sh ARCH   (ARCH = aarch64 | x86_64)
#
# Builds the C library the firmware links statically (SQLite) for
# ARCH-linux-musl with zig's C compiler
# (scripts/zigcc), from the Debian source packages of the versions this
# machine's apt knows. Result, relative to the repository root:
#
#   .build-fw-deps/ARCH/include/{sqlite3.h,sqlite3ext.h}
#   .build-fw-deps/ARCH/lib/libsqlite3.a
#
# Sources are fetched once into .build-fw-deps/src/ (shared by both ARCHes;
# every ARCH builds in its own copy / out-of-tree directory under
# .build-fw-deps/build/ARCH/). A stamp per library and ARCH makes a re-run a
# no-op (<1 s). `rm -rf .build-fw-deps` starts over (e.g. to pick up a newer
# Debian revision); `rm .build-fw-deps/ARCH/.stamp-LIB` rebuilds one library.
#
# Needs: apt (network), dpkg-dev (dpkg-source), make, gcc, patch (host tools),
# tclsh (package `tcl`: SQLite's amalgamation generator),
# python3 -m ziglang (pip install ziglang). No root needed beyond apt's
# network access: apt runs on private state under .build-fw-deps/src/apt/.
#
# Environment (all optional):
#   JOBS                      parallel make jobs (default: nproc)
#   SQLITE3_VERSION LIBCAP2_VERSION
#                             Debian source version to fetch instead of the
#                             automatic choice (the source version of the
#                             installed binary package if the archive still has
#                             it, else the newest version the archive offers;
#                             older ones are tried if a download fails)
set -euo pipefail

usage() { echo "usage: $0 aarch64|x86_64" >&2; exit 2; }
[ $# -eq 1 ] || usage
ARCH="$1"
case "$ARCH" in aarch64|x86_64) ;; *) usage ;; esac

T0=$(date +%s)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$ROOT/scripts"
BASE="$ROOT/.build-fw-deps"
SRC="$BASE/src"
OUT="$BASE/$ARCH"
BLD="$BASE/build/$ARCH"
TARGET="$ARCH-linux-musl"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Don't let the caller's build environment leak into the libraries.
unset CC CXX CPP LD AR RANLIB NM STRIP CFLAGS CXXFLAGS CPPFLAGS LDFLAGS LIBS \
      CROSS_COMPILE MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS CONFIG_SITE || true
export LC_ALL=C

log() { printf '[build-deps %s %s] %s\n' "$(date +%T)" "$ARCH" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || log "FAILED (exit $rc)"' EXIT

# run LOGFILE CMD...: run CMD with its output in LOGFILE; on failure show the
# end of the log and stop.
run() {
  local logf="$1"; shift
  if ! "$@" >>"$logf" 2>&1; then
    log "command failed: $*"
    log "last lines of $logf:"
    tail -n 40 "$logf" >&2
    exit 1
  fi
}

# Versioned sources of each library: Debian source package, the binary package
# whose installed version picks the source version, upstream tree name.
LIBS=(sqlite3)
declare -A BINPKG=([sqlite3]=libsqlite3-0)
declare -A VERVAR=([sqlite3]=SQLITE3_VERSION)

# Flags for everything compiled for the target. Nothing in the firmware
# unwinds (Embedded Swift traps, musl C never throws), so no unwind tables.
COPTS="-Os -ffunction-sections -fdata-sections -fno-unwind-tables -fno-asynchronous-unwind-tables"
# SQLite compile-time options. They are also given to the amalgamation
# generator (OPTS=), as SQLite recommends for SQLITE_OMIT_*. HAVE_* are what
# configure would find in musl; without HAVE_USLEEP SQLite sleeps (busy
# timeout) in whole seconds.
#
# The OMIT_* list leaves out what the store never runs (Sources/Store: plain
# tables WITHOUT ROWID, indexes, subqueries, upserts, CAST, COUNT, savepoints;
# PRAGMA journal_mode / synchronous / foreign_keys / user_version /
# integrity_check; ALTER TABLE ADD COLUMN in migrations; REFERENCES … ON DELETE
# CASCADE, which needs FOREIGN_KEY and TRIGGER; the triggers that log service
# changes and count zone inputs, migration 7). Kept on purpose: ALTERTABLE,
# CAST, UPSERT, FOREIGN_KEY, TRIGGER, SUBQUERY, INTEGRITY_CHECK, the flag /
# pager / schema-version pragmas, WAL, and the query-planner optimisations
# (OR, BETWEEN, quick-balance, lookaside). OMIT_CONFLICT_CLAUSE breaks
# upserts. SQLITE_PATCHES make three options usable: OMIT_ATTACH and
# OMIT_VACUUM do not link in 3.40 as released, and OMIT_VIRTUALTABLE upstream
# also removes ALTER TABLE.
SQLITE_DEFS="-DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_DQS=0
 -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_DEFAULT_WAL_SYNCHRONOUS=1
 -DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_SHARED_CACHE
 -DSQLITE_LIKE_DOESNT_MATCH_BLOBS -DSQLITE_MAX_EXPR_DEPTH=0
 -DSQLITE_OMIT_PROGRESS_CALLBACK
 -DSQLITE_OMIT_JSON -DSQLITE_OMIT_WINDOWFUNC -DSQLITE_OMIT_UTF16
 -DSQLITE_OMIT_EXPLAIN -DSQLITE_OMIT_AUTHORIZATION -DSQLITE_OMIT_TRACE
 -DSQLITE_OMIT_AUTOVACUUM -DSQLITE_OMIT_ANALYZE -DSQLITE_OMIT_REINDEX
 -DSQLITE_OMIT_COMPLETE -DSQLITE_OMIT_DECLTYPE -DSQLITE_OMIT_GET_TABLE
 -DSQLITE_OMIT_INCRBLOB -DSQLITE_OMIT_DATETIME_FUNCS -DSQLITE_OMIT_LOCALTIME
 -DSQLITE_OMIT_TCL_VARIABLE -DSQLITE_OMIT_COMPILEOPTION_DIAGS
 -DSQLITE_OMIT_INTROSPECTION_PRAGMAS -DSQLITE_OMIT_SCHEMA_PRAGMAS
 -DSQLITE_OMIT_DESERIALIZE -DSQLITE_OMIT_GENERATED_COLUMNS -DSQLITE_OMIT_CHECK
 -DSQLITE_OMIT_CTE -DSQLITE_OMIT_VIEW -DSQLITE_OMIT_COMPOUND_SELECT
 -DSQLITE_OMIT_AUTOINCREMENT -DSQLITE_OMIT_BLOB_LITERAL -DSQLITE_OMIT_HEX_INTEGER
 -DSQLITE_OMIT_XFER_OPT -DSQLITE_OMIT_TRUNCATE_OPTIMIZATION
 -DSQLITE_OMIT_AUTOMATIC_INDEX -DSQLITE_OMIT_LIKE_OPTIMIZATION
 -DSQLITE_OMIT_CASE_SENSITIVE_LIKE_PRAGMA -DSQLITE_OMIT_TEMPDB
 -DSQLITE_OMIT_MEMORYDB -DSQLITE_UNTESTABLE -DSQLITE_MAX_MMAP_SIZE=0
 -DSQLITE_OMIT_VIRTUALTABLE -DSQLITE_OMIT_ATTACH -DSQLITE_OMIT_VACUUM"
SQLITE_DEFS="$(echo $SQLITE_DEFS)"
# Applied to a copy of the SQLite sources before the amalgamation is generated
# (each file says why).
SQLITE_PATCHES=("$SCRIPTS/sqlite3-alter-without-vtab.patch" "$SCRIPTS/sqlite3-omit-attach-vacuum.patch"
                "$SCRIPTS/sqlite3-current-time-without-strftime.patch")
SQLITE_HAVE="-DHAVE_USLEEP=1 -DHAVE_LOCALTIME_R=1 -DHAVE_GMTIME_R=1 -DHAVE_FDATASYNC=1 -DHAVE_STRCHRNUL=1 -DHAVE_POSIX_FALLOCATE=1"

# ---------------------------------------------------------------- fast path
# Everything is done when every stamp exists and matches its recipe. The
# recipe (stamp content) is computed from the source version, the flags and
# the zig version, so checking it costs one zig call (~0.1 s).
recipe() { # LIB -> the content of its stamp
  local lib="$1"
  printf 'lib=%s\nsource=%s\nzig=%s\ntarget=%s\ncopts=%s\n' \
    "$lib" "$(cat "$SRC/$lib.version" 2>/dev/null || echo none)" "$ZIG_VERSION" "$TARGET" "$COPTS"
  case "$lib" in
    sqlite3) printf 'defs=%s %s\npatch=%s\n' "$SQLITE_DEFS" "$SQLITE_HAVE" "$(patch_id)" ;;
  esac
  printf 'recipe=1\n'
}
declare -A OUTPUTS=([sqlite3]="lib/libsqlite3.a include/sqlite3.h")
patch_id() { cat "${SQLITE_PATCHES[@]}" | sha256sum | cut -c1-16; }
stamp_ok() {
  local f
  for f in ${OUTPUTS[$1]}; do [ -f "$OUT/$f" ] || return 1; done
  [ -f "$OUT/.stamp-$1" ] && [ "$(cat "$OUT/.stamp-$1")" = "$(recipe "$1")" ]
}

command -v python3 >/dev/null || die "python3 not found"
ZIG_EXE="$(python3 -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))' 2>/dev/null)" \
  || die "python3 -m ziglang not importable: run scripts/setup.sh (pip install ziglang)"
[ -x "$ZIG_EXE" ] || die "zig binary not found at $ZIG_EXE"
ZIG_VERSION="$("$ZIG_EXE" version)"
export ZIG_EXE

all_done=1
for lib in "${LIBS[@]}"; do stamp_ok "$lib" || { all_done=0; break; }; done
if [ "$all_done" = 1 ]; then
  log "up to date ($OUT)"
  exit 0
fi

# One build at a time per tree (both ARCHes share src/).
mkdir -p "$BASE"
exec 9>"$BASE/.lock"
if ! flock -n 9; then
  log "waiting for another build-deps.sh run"
  flock 9
fi

for t in make gcc patch dpkg-source apt-get apt-cache; do
  command -v "$t" >/dev/null || {
    case "$t" in
      dpkg-source) die "dpkg-source not found (Debian package: dpkg-dev)" ;;
      *) die "$t not found (run scripts/setup.sh)" ;;
    esac
  }
done

export ZIG_TARGET="$TARGET"
ZIGCC="$SCRIPTS/zigcc"
ZIGAR="$SCRIPTS/zigar"
[ -x "$ZIGCC" ] && [ -x "$ZIGAR" ] || die "scripts/zigcc or scripts/zigar missing or not executable"
mkdir -p "$SRC" "$BLD" "$OUT/include" "$OUT/lib"

# ---------------------------------------------------------------- sources
APTDIR="$SRC/apt"
APT_OPTS=(-o Dir::Etc::SourceList=/dev/null
          -o "Dir::Etc::SourceParts=$APTDIR/parts"
          -o "Dir::State::Lists=$APTDIR/lists"
          -o "Dir::Cache=$APTDIR/cache"
          -o Acquire::Languages=none
          -o APT::Get::Only-Source=true)
# As root apt downloads as _apt, which cannot write into our directories.
[ "$(id -u)" != 0 ] || APT_OPTS+=(-o APT::Sandbox::User=root)
APT_READY=0

apt_prepare() {
  [ "$APT_READY" = 0 ] || return 0
  log "apt: deb-src lists from the machine's sources (private state in $APTDIR)"
  rm -rf "$APTDIR"
  mkdir -p "$APTDIR/parts" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ]; then
    sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$APTDIR/parts/debian-src.sources"
  elif [ -f /etc/apt/sources.list ] && grep -qE '^deb[[:space:]]' /etc/apt/sources.list; then
    sed -nE 's/^deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list >"$APTDIR/parts/debian-src.list"
  else
    die "no Debian sources found in /etc/apt (need $f)"
  fi
  run "$APTDIR/apt.log" apt-get "${APT_OPTS[@]}" -q update
  APT_READY=1
}

# candidates SRCPKG: Debian source versions to try, best first: the version
# forced by SQLITE3_VERSION etc., else the source version of the installed
# binary package (if the archive lists it), then the others, newest first
# (an index can list a version whose files are already gone, e.g. libcap2
# 1:2.66-4+deb12u2 in bookworm-security answers 404).
candidates() {
  local src="$1" var="${VERVAR[$1]}" avail inst best v rest
  if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
  avail="$(apt-cache "${APT_OPTS[@]}" showsrc "$src" 2>/dev/null |
           awk -v p="$src" '/^Package:/{ok=($2==p)} ok && /^Version:/{print $2}' | awk '!seen[$0]++')"
  [ -n "$avail" ] || { log "apt knows no source package $src"; return 1; }
  inst="$(dpkg-query -W -f='${db:Status-Status} ${source:Version}' "${BINPKG[$src]}" 2>/dev/null || true)"
  if [ "${inst%% *}" = installed ] && grep -qxF "${inst#* }" <<<"$avail"; then
    echo "${inst#* }"
    avail="$(grep -vxF "${inst#* }" <<<"$avail" || true)"
  fi
  while [ -n "$avail" ]; do
    best=
    for v in $avail; do
      if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best="$v"; fi
    done
    echo "$best"
    avail="$(grep -vxF "$best" <<<"$avail" || true)"
  done
}

# fetch SRCPKG: $SRC/SRCPKG/ holds the unpacked, patched Debian source and
# $SRC/SRCPKG.version its version.
fetch() {
  local pkg="$1" vers ver= v dl="$SRC/dl" t
  [ -f "$SRC/$pkg.version" ] && [ -d "$SRC/$pkg" ] && return 0
  apt_prepare
  vers="$(candidates "$pkg")" || die "no source versions for $pkg"
  mkdir -p "$dl"
  t=$(date +%s)
  for v in $vers; do
    log "fetch: $pkg $v (apt-get source)"
    if (cd "$dl" && apt-get "${APT_OPTS[@]}" -q source --download-only "$pkg=$v") >>"$dl/$pkg.log" 2>&1; then
      ver="$v"; break
    fi
    log "fetch: $pkg $v could not be downloaded:"
    grep -E '^(E|Err):' "$dl/$pkg.log" | tail -n 3 >&2 || true
  done
  [ -n "$ver" ] || die "could not download any version of $pkg (log: $dl/$pkg.log)"
  local dsc="$dl/${pkg}_${ver#*:}.dsc"
  [ -f "$dsc" ] || die "no $dsc after download"
  rm -rf "$SRC/$pkg" "$SRC/$pkg.tmp"
  run "$dl/$pkg.log" dpkg-source --no-copy -x "$dsc" "$SRC/$pkg.tmp"
  mv "$SRC/$pkg.tmp" "$SRC/$pkg"
  echo "$ver" >"$SRC/$pkg.version"
  log "fetch: $pkg $ver unpacked in $(( $(date +%s) - t )) s"
}

# SQLite amalgamation (sqlite3.c/.h): generated once with host tools, shared
# by both ARCHes. Recorded with the options it was generated with.
AMALG="$SRC/sqlite3-amalgamation"
amalgamation() {
  local want="source=$(cat "$SRC/sqlite3.version") opts=$SQLITE_DEFS patch=$(patch_id)"
  if [ -f "$AMALG/.stamp" ] && [ "$(cat "$AMALG/.stamp")" = "$want" ]; then return 0; fi
  log "sqlite3: generating the amalgamation (host gcc + tclsh)"
  command -v tclsh >/dev/null ||
    die "tclsh not found (Debian package: tcl); SQLite's amalgamation generator needs it"
  local b="$BASE/build/host/sqlite3" top="$BASE/build/host/sqlite3-src" t f
  t=$(date +%s)
  rm -rf "$b" "$top" "$AMALG"; mkdir -p "$b"
  # The patched tree: symlinks to the pristine one, real copies of the files
  # the patch changes.
  cp -rs "$SRC/sqlite3" "$top"
  for f in $(sed -n 's#^+++ b/\([^[:space:]]*\).*#\1#p' "${SQLITE_PATCHES[@]}" | sort -u); do
    cp --remove-destination "$SRC/sqlite3/$f" "$top/$f"
  done
  for f in "${SQLITE_PATCHES[@]}"; do
    run "$b/build.log" patch -d "$top" -p1 --forward --no-backup-if-mismatch -i "$f"
  done
  (cd "$b" && run "$b/build.log" "$top/configure" --disable-tcl --disable-readline \
      --disable-load-extension --disable-shared CC=gcc CFLAGS=-O1)
  (cd "$b" && run "$b/build.log" make -j"$JOBS" OPTS="$SQLITE_DEFS" sqlite3.c)
  mkdir -p "$AMALG.tmp"
  cp "$b/sqlite3.c" "$b/sqlite3.h" "$SRC/sqlite3/src/sqlite3ext.h" "$AMALG.tmp/"
  echo "$want" >"$AMALG.tmp/.stamp"
  mv "$AMALG.tmp" "$AMALG"
  log "sqlite3: amalgamation ready in $(( $(date +%s) - t )) s"
}

# ---------------------------------------------------------------- builds
build_sqlite3() {
  amalgamation
  local b="$BLD/sqlite3"
  rm -rf "$b"; mkdir -p "$b"
  run "$b/build.log" "$ZIGCC" $COPTS $SQLITE_DEFS $SQLITE_HAVE -I"$AMALG" \
    -c "$AMALG/sqlite3.c" -o "$b/sqlite3.o"
  run "$b/build.log" "$ZIGAR" rcs "$b/libsqlite3.a" "$b/sqlite3.o"
  rm -f "$OUT/lib/libsqlite3.a" "$OUT/include/sqlite3.h" "$OUT/include/sqlite3ext.h"
  cp "$b/libsqlite3.a" "$OUT/lib/"
  cp "$AMALG/sqlite3.h" "$AMALG/sqlite3ext.h" "$OUT/include/"
}


log "target $TARGET, zig $ZIG_VERSION, $JOBS jobs, output $OUT"
for lib in "${LIBS[@]}"; do fetch "$lib"; done

for lib in "${LIBS[@]}"; do
  if stamp_ok "$lib"; then
    log "$lib: up to date"
    continue
  fi
  rm -f "$OUT/.stamp-$lib"
  log "$lib $(cat "$SRC/$lib.version"): building"
  t=$(date +%s)
  "build_$lib"
  recipe "$lib" >"$OUT/.stamp-$lib"
  log "$lib: done in $(( $(date +%s) - t )) s"
done

log "done in $(( $(date +%s) - T0 )) s:"
for f in libsqlite3.a; do
  printf '  %-18s %6d KB\n' "$f" $(( $(stat -c %s "$OUT/lib/$f") / 1024 )) >&2
done
