#!/usr/bin/env python3
"""Build a dnsbox container image as a docker-archive tarball, without Docker.

    scripts/mkimage.py --binary out/aarch64/dnsbox \\
        --board board/routeros-aarch64 --version 0.1.0 \\
        --out out/dnsbox-routeros-aarch64.tar

The result is the classic `docker save` layout: what `docker load`,
`podman load` and `skopeo ... docker-archive:FILE` read, and what MikroTik
RouterOS imports with `/container/add file=FILE`:

    manifest.json            [{"Config": "<cfg>.json", "RepoTags": [...], "Layers": ["<id>/layer.tar"]}]
    repositories             {"dnsbox": {"<tag>": "<id>"}}
    <cfg>.json               image config; <cfg> is its sha256
    <id>/VERSION, <id>/json  legacy v1 layer metadata
    <id>/layer.tar           the one layer, uncompressed; <id> is its sha256 (the diff_id)

The image is from scratch with one layer: /usr/sbin/dnsbox, the applet links
(/usr/sbin/dnsd -> dnsbox, ...), /etc/config/dnsbox from the board, a minimal
/etc/passwd and /etc/group (root, nobody), /data (the volume), /run/dnsbox and
/tmp (1777). The output is byte-for-byte reproducible: every entry is owned by
0:0, sorted, and dated SOURCE_DATE_EPOCH (0 when unset).

Board settings come from board/<name>/board.mk (ARCH, IMAGE_ARCH,
IMAGE_VARIANT, IMAGE_NAME, IMAGE_TAG, BOARD_DESCRIPTION), read with a small
parser for `NAME := value`, `NAME = value`, `NAME ?= value` and $(VAR)
references; VERSION and BOARD are predefined. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import struct
import sys
import tarfile
import time
from pathlib import Path

APPLETS = ("dnsd", "dhcpd", "rad", "mdnsd", "bgpd", "apictl", "init")
BINARY_PATH = "usr/sbin/dnsbox"
CONFIG_PATH = "etc/config/dnsbox"
DEFAULT_VOLUMES = ("/data",)
ENTRYPOINT = ["/usr/sbin/dnsbox", "init"]
PATH_ENV = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\n"

# IMAGE_ARCH -> (ELF e_machine, board ARCH)
ELF_MACHINES = {"amd64": (62, "x86_64"), "arm64": (183, "aarch64")}
PT_INTERP = 3

TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


class ImageError(Exception):
    pass


# --- board.mk -----------------------------------------------------------------

_ASSIGN_RE = re.compile(r"^(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(:=|::=|\?=|\+=|=)\s*(.*)$")
_REF_RE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: str, env: dict[str, str], path: Path, lineno: int) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in env:
            raise ImageError(f"{path}:{lineno}: $({name}) is not defined")
        return env[name]

    # Expand until stable, for values that refer to recursively defined ones.
    for _ in range(10):
        new = _REF_RE.sub(sub, value)
        if new == value:
            return new
        value = new
    raise ImageError(f"{path}:{lineno}: variable expansion does not terminate")


def parse_board_mk(path: Path, predefined: dict[str, str]) -> dict[str, str]:
    """Read the simple make assignments of a board.mk.

    predefined values act like make command-line variables: the file cannot
    override them. Conditionals, functions and rules are refused, so the file
    stays what make and this parser both understand the same way.
    """
    raw: dict[str, tuple[str, str, int]] = {}  # name -> (op, value, lineno)
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        m = _ASSIGN_RE.match(stripped)
        if not m:
            raise ImageError(f"{path}:{lineno}: not a simple variable assignment: {line.strip()}")
        name, op, value = m.group(1), m.group(2), m.group(3).strip()
        if "$(" in value and re.search(r"\$\([a-z-]+\s", value):
            raise ImageError(f"{path}:{lineno}: make functions are not supported here")
        if name in predefined:
            continue
        if op == "?=" and name in raw:
            continue
        if op == "+=" and name in raw:
            prev_op, prev, _ = raw[name]
            raw[name] = (prev_op, (prev + " " + value).strip(), lineno)
            continue
        raw[name] = (op, value, lineno)

    env = dict(predefined)
    # Simply expanded (:=) values expand in file order, recursive ones (=)
    # at the end; with the plain definitions a board.mk holds this gives
    # what make gives.
    for name, (op, value, lineno) in raw.items():
        if op in (":=", "::="):
            env[name] = _expand(value, env, path, lineno)
        else:
            env[name] = value
    for name, (op, value, lineno) in raw.items():
        if op not in (":=", "::="):
            env[name] = _expand(value, env, path, lineno)
    return env


# --- inputs -------------------------------------------------------------------

def check_elf(data: bytes, image_arch: str, path: Path) -> None:
    """The binary must be a 64-bit little-endian static ELF for image_arch."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise ImageError(f"{path}: not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ImageError(f"{path}: not a 64-bit little-endian ELF")
    want_machine, want_arch = ELF_MACHINES[image_arch]
    (e_machine,) = struct.unpack_from("<H", data, 18)
    if e_machine != want_machine:
        names = {v[0]: v[1] for v in ELF_MACHINES.values()}
        got = names.get(e_machine, f"e_machine {e_machine}")
        raise ImageError(f"{path}: built for {got}, the board needs {want_arch}")
    (e_phoff,) = struct.unpack_from("<Q", data, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        if off + 4 > len(data):
            raise ImageError(f"{path}: truncated ELF program headers")
        (p_type,) = struct.unpack_from("<I", data, off)
        if p_type == PT_INTERP:
            raise ImageError(
                f"{path}: dynamically linked (has an ELF interpreter); "
                "the image has no libc, build the static firmware binary"
            )


def uci_database(config_text: str) -> str | None:
    """The `option database` of the first `config dnsbox` section, if any."""
    section = None
    for line in config_text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "config":
            section = words[1] if len(words) > 1 else None
        elif words[0] == "option" and section == "dnsbox" and len(words) >= 3 and words[1] == "database":
            return " ".join(words[2:]).strip("'\"")
    return None


# --- tar writing --------------------------------------------------------------

def _tarinfo(name: str, mtime: int, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def build_tar(entries: list[tuple], mtime: int) -> bytes:
    """entries: (path, kind, mode, payload); kind is 'dir', 'file' or 'link'.

    Paths are relative ("usr/sbin/dnsbox"); directories get a trailing slash
    as docker's own layers have. Entries are written sorted by path so that
    parents precede children and the output depends only on the content.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, kind, mode, payload in sorted(entries, key=lambda e: e[0]):
            if kind == "dir":
                tar.addfile(_tarinfo(path.rstrip("/") + "/", mtime, mode, tarfile.DIRTYPE))
            elif kind == "link":
                ti = _tarinfo(path, mtime, mode, tarfile.SYMTYPE)
                ti.linkname = payload
                tar.addfile(ti)
            elif kind == "file":
                ti = _tarinfo(path, mtime, mode)
                ti.size = len(payload)
                tar.addfile(ti, io.BytesIO(payload))
            else:
                raise ValueError(kind)
    return buf.getvalue()


def layer_entries(binary: bytes, config_text: str, volumes: list[str]) -> list[tuple]:
    entries: list[tuple] = [
        ("etc", "dir", 0o755, None),
        ("etc/config", "dir", 0o755, None),
        (CONFIG_PATH, "file", 0o644, config_text.encode("utf-8")),
        ("etc/passwd", "file", 0o644, PASSWD.encode()),
        ("etc/group", "file", 0o644, GROUP.encode()),
        ("run", "dir", 0o755, None),
        ("run/dnsbox", "dir", 0o755, None),
        ("tmp", "dir", 0o1777, None),
        ("usr", "dir", 0o755, None),
        ("usr/sbin", "dir", 0o755, None),
        (BINARY_PATH, "file", 0o755, binary),
    ]
    entries += [(f"usr/sbin/{a}", "link", 0o777, "dnsbox") for a in APPLETS]
    have = {e[0] for e in entries}
    for vol in volumes:
        parts = vol.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in have:
                entries.append((d, "dir", 0o755, None))
                have.add(d)
    return entries


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def rfc3339(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def build_image(
    *,
    binary: bytes,
    config_text: str,
    board: dict[str, str],
    board_name: str,
    version: str,
    repo_tag: str,
    volumes: list[str],
    epoch: int,
) -> tuple[bytes, dict]:
    layer = build_tar(layer_entries(binary, config_text, volumes), epoch)
    diff_hex = hashlib.sha256(layer).hexdigest()
    created = rfc3339(epoch)

    container_config = {
        "Entrypoint": ENTRYPOINT,
        "Cmd": [],
        "Env": [PATH_ENV],
        "WorkingDir": "/",
        "Volumes": {v: {} for v in volumes},
        "StopSignal": "SIGTERM",
        "Labels": {
            "org.opencontainers.image.title": "dnsbox",
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.description": board.get("BOARD_DESCRIPTION", ""),
        },
    }
    config = {
        "architecture": board["IMAGE_ARCH"],
        "os": "linux",
        "created": created,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_hex}"]},
        "history": [
            {
                "created": created,
                "created_by": f"scripts/mkimage.py --board {board_name} --version {version}",
                "comment": "dnsbox static binary, applet links, /etc/config/dnsbox",
            }
        ],
    }
    if board.get("IMAGE_VARIANT"):
        config["variant"] = board["IMAGE_VARIANT"]
    config_bytes = _json(config)
    config_hex = hashlib.sha256(config_bytes).hexdigest()

    layer_id = diff_hex
    v1_json = {
        "id": layer_id,
        "created": created,
        "os": "linux",
        "architecture": board["IMAGE_ARCH"],
        "config": container_config,
    }
    if board.get("IMAGE_VARIANT"):
        v1_json["variant"] = board["IMAGE_VARIANT"]
    repo, tag = repo_tag.rsplit(":", 1)
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": [repo_tag], "Layers": [f"{layer_id}/layer.tar"]}]
    outer = build_tar(
        [
            (layer_id, "dir", 0o755, None),
            (f"{layer_id}/VERSION", "file", 0o644, b"1.0"),
            (f"{layer_id}/json", "file", 0o644, _json(v1_json)),
            (f"{layer_id}/layer.tar", "file", 0o644, layer),
            (f"{config_hex}.json", "file", 0o644, config_bytes),
            ("manifest.json", "file", 0o644, _json(manifest)),
            ("repositories", "file", 0o644, _json({repo: {tag: layer_id}})),
        ],
        epoch,
    )
    info = {
        "repo_tag": repo_tag,
        "image_id": f"sha256:{config_hex}",
        "diff_id": f"sha256:{diff_hex}",
        "layer_bytes": len(layer),
        "architecture": board["IMAGE_ARCH"] + (f"/{board['IMAGE_VARIANT']}" if board.get("IMAGE_VARIANT") else ""),
    }
    return outer, info


# --- command line -------------------------------------------------------------

def resolve_board(arg: str) -> Path:
    p = Path(arg)
    if (p / "board.mk").is_file():
        return p
    repo_board = Path(__file__).resolve().parent.parent / "board" / arg
    if (repo_board / "board.mk").is_file():
        return repo_board
    raise ImageError(f"{arg}: no board.mk there (nor in board/{arg})")


def source_date_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        raise ImageError(f"SOURCE_DATE_EPOCH={raw!r}: not a whole number of seconds")
    return int(raw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Build a dnsbox docker-archive image tarball (no Docker needed).",
    )
    ap.add_argument("--binary", required=True, help="the static dnsbox binary (e.g. out/aarch64/dnsbox)")
    ap.add_argument("--board", required=True, help="board directory or name (board/routeros-aarch64)")
    ap.add_argument("--version", required=True, help="image version, goes into the tag and labels")
    ap.add_argument("--out", required=True, help="output tarball (docker-archive)")
    ap.add_argument("--tag", help="full NAME:TAG, default IMAGE_NAME:IMAGE_TAG from board.mk")
    ap.add_argument("--config", help="ship this file as /etc/config/dnsbox instead of the board's config")
    args = ap.parse_args(argv)

    try:
        board_dir = resolve_board(args.board)
        board_name = board_dir.resolve().name
        if not args.version.strip():
            raise ImageError("--version is empty")
        board = parse_board_mk(board_dir / "board.mk", {"VERSION": args.version, "BOARD": board_name})
        for key in ("ARCH", "IMAGE_ARCH", "IMAGE_NAME", "IMAGE_TAG"):
            if not board.get(key):
                raise ImageError(f"{board_dir / 'board.mk'}: {key} is not set")
        if board["IMAGE_ARCH"] not in ELF_MACHINES:
            raise ImageError(f"IMAGE_ARCH={board['IMAGE_ARCH']}: expected one of {', '.join(ELF_MACHINES)}")
        if ELF_MACHINES[board["IMAGE_ARCH"]][1] != board["ARCH"]:
            raise ImageError(f"board.mk: ARCH={board['ARCH']} does not match IMAGE_ARCH={board['IMAGE_ARCH']}")

        repo_tag = args.tag or f"{board['IMAGE_NAME']}:{board['IMAGE_TAG']}"
        if ":" not in repo_tag:
            raise ImageError(f"{repo_tag}: expected NAME:TAG")
        name, tag = repo_tag.rsplit(":", 1)
        if not NAME_RE.match(name):
            raise ImageError(f"{name}: not a valid image name (lower case, digits, . _ - /)")
        if not TAG_RE.match(tag):
            raise ImageError(f"{tag}: not a valid image tag ([A-Za-z0-9_.-], at most 128, not starting with . or -)")

        binary_path = Path(args.binary)
        if not binary_path.is_file():
            raise ImageError(f"{binary_path}: no such file (build it: make firmware ARCH={board['ARCH']})")
        binary = binary_path.read_bytes()
        check_elf(binary, board["IMAGE_ARCH"], binary_path)

        config_path = Path(args.config) if args.config else board_dir / "config"
        if not config_path.is_file():
            raise ImageError(f"{config_path}: no such file")
        config_text = config_path.read_text(encoding="utf-8")

        volumes = board.get("IMAGE_VOLUMES", "").split() or list(DEFAULT_VOLUMES)
        db = uci_database(config_text)
        if db and not any(db.startswith(v.rstrip("/") + "/") for v in volumes):
            print(
                f"mkimage: warning: {config_path}: database {db} is not on a volume "
                f"({' '.join(volumes)}); its data goes away with the container",
                file=sys.stderr,
            )

        image, info = build_image(
            binary=binary,
            config_text=config_text,
            board=board,
            board_name=board_name,
            version=args.version,
            repo_tag=repo_tag,
            volumes=volumes,
            epoch=source_date_epoch(),
        )
    except ImageError as e:
        print(f"mkimage: {e}", file=sys.stderr)
        return 1

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(image)
    os.replace(tmp, out)
    print(
        f"mkimage: {out}: {info['repo_tag']} {info['architecture']} "
        f"image {info['image_id'][:19]} layer {info['layer_bytes']} bytes, "
        f"sha256 {hashlib.sha256(image).hexdigest()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
