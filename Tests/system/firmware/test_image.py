"""The container image that scripts/mkimage.py builds from the firmware binary.

It tests the real thing: the static binary `make firmware` leaves in out/ARCH/
(or $DNSBOX_OUT_DIR/ARCH/ for an out-of-tree build). Without it the tests skip
and say which make command builds it. skopeo, a tool nobody here wrote, reads
the image the way registries and container engines do; qemu-aarch64-static
runs the arm64 binary from inside the unpacked layer.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import ROOT

REPO = ROOT
MKIMAGE = REPO / "scripts" / "mkimage.py"
OUT = Path(os.environ.get("DNSBOX_OUT_DIR", REPO / "out"))
APPLETS = ("dnsd", "dhcpd", "rad", "mdnsd", "bgpd", "apictl", "init")
VERSION = "0.0.0-test"
EPOCH = "1700000000"

# board, firmware ARCH, IMAGE_ARCH, variant
BOARDS = [
    ("routeros-aarch64", "aarch64", "arm64", "v8"),
    ("generic-aarch64", "aarch64", "arm64", "v8"),
    ("generic-x86_64", "x86_64", "amd64", None),
]


def firmware(arch: str) -> Path:
    path = OUT / arch / "dnsbox"
    if not path.is_file():
        pytest.skip(f"firmware not built (make firmware ARCH={arch})")
    return path


def need_skopeo() -> str:
    exe = shutil.which("skopeo")
    if exe is None:
        pytest.skip("skopeo not installed (scripts/setup.sh installs it)")
    return exe


def mkimage(binary: Path, board: str, out: Path) -> Path:
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    r = subprocess.run(
        [sys.executable, str(MKIMAGE), "--binary", str(binary), "--board", str(REPO / "board" / board),
         "--version", VERSION, "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, f"mkimage failed:\n{r.stdout}\n{r.stderr}"
    return out


def skopeo(*args: str) -> str:
    r = subprocess.run([need_skopeo(), *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"skopeo {' '.join(args)} failed:\n{r.stderr}"
    return r.stdout


def read_member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        f = tar.extractfile(name)
        assert f is not None, f"{name} is not a regular file in {archive}"
        return f.read()


def manifest(archive: Path) -> dict:
    m = json.loads(read_member(archive, "manifest.json"))
    assert isinstance(m, list) and len(m) == 1
    return m[0]


@pytest.fixture(scope="module", params=BOARDS, ids=[b[0] for b in BOARDS])
def built(request, tmp_path_factory):
    board, arch, image_arch, variant = request.param
    binary = firmware(arch)
    out = mkimage(binary, board, tmp_path_factory.mktemp(board) / f"dnsbox-{board}.tar")
    return {"board": board, "arch": arch, "image_arch": image_arch, "variant": variant,
            "binary": binary, "image": out}


def test_skopeo_reads_platform_and_config(built):
    image = f"docker-archive:{built['image']}"
    info = json.loads(skopeo("inspect", image))
    assert info["Architecture"] == built["image_arch"]
    assert info["Os"] == "linux"

    cfg = json.loads(skopeo("inspect", "--config", image))
    assert cfg["architecture"] == built["image_arch"]
    assert cfg.get("variant") == built["variant"]
    assert cfg["os"] == "linux"
    c = cfg["config"]
    assert c["Entrypoint"] == ["/usr/sbin/dnsbox", "init"]
    assert not c.get("Cmd")
    assert "/data" in c["Volumes"]
    assert c["StopSignal"] == "SIGTERM"
    assert any(e.startswith("PATH=") and "/usr/sbin" in e for e in c["Env"])
    assert c["Labels"]["org.opencontainers.image.version"] == VERSION
    assert c["Labels"]["org.opencontainers.image.title"] == "dnsbox"

    # The layer skopeo names is the layer in the archive, by content.
    m = manifest(built["image"])
    layer = read_member(built["image"], m["Layers"][0])
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    assert cfg["rootfs"]["diff_ids"] == [digest]
    raw = json.loads(skopeo("inspect", "--raw", image))
    assert [l["digest"] for l in raw["layers"]] == [digest]
    assert m["RepoTags"] == [f"dnsbox:{VERSION}-{built['board']}"]


def test_skopeo_copies_it(built, tmp_path):
    # A full copy verifies every digest on the way, as a registry push would.
    skopeo("copy", f"docker-archive:{built['image']}", f"oci:{tmp_path / 'oci'}:dnsbox")
    index = json.loads((tmp_path / "oci" / "index.json").read_text())
    assert len(index["manifests"]) == 1


def test_layer_contents(built):
    m = manifest(built["image"])
    layer = read_member(built["image"], m["Layers"][0])
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {t.name.rstrip("/"): t for t in tar.getmembers()}
        for t in members.values():
            assert (t.uid, t.gid) == (0, 0), t.name
            assert t.mtime == int(EPOCH), t.name

        exe = members["usr/sbin/dnsbox"]
        assert exe.isreg() and exe.mode == 0o755
        assert tar.extractfile(exe).read() == built["binary"].read_bytes()
        for applet in APPLETS:
            link = members[f"usr/sbin/{applet}"]
            assert link.issym() and link.linkname == "dnsbox", applet

        conf = tar.extractfile(members["etc/config/dnsbox"]).read()
        assert conf == (REPO / "board" / built["board"] / "config").read_bytes()
        assert b"config dnsbox 'main'" in conf

        passwd = tar.extractfile(members["etc/passwd"]).read().decode()
        assert [l.split(":")[:3] for l in passwd.splitlines()] == [
            ["root", "x", "0"], ["nobody", "x", "65534"]]
        group = tar.extractfile(members["etc/group"]).read().decode()
        assert {l.split(":")[0] for l in group.splitlines()} == {"root", "nobody"}

        assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
        for d in ("data", "run/dnsbox"):
            assert members[d].isdir(), d

        names = [t.name for t in tar.getmembers()]
        assert names == sorted(names)


def test_reproducible(built, tmp_path):
    again = mkimage(built["binary"], built["board"], tmp_path / "again.tar")
    assert hashlib.sha256(again.read_bytes()).hexdigest() == \
        hashlib.sha256(built["image"].read_bytes()).hexdigest()


def test_applets_run_from_the_layer(built, tmp_path):
    """The binary in the image runs, by name and through an applet link."""
    if built["arch"] == platform.machine():
        runner: list[str] = []
    elif built["arch"] == "aarch64":
        qemu = shutil.which("qemu-aarch64-static")
        if qemu is None:
            pytest.skip("qemu-aarch64-static not installed (scripts/setup.sh installs it)")
        runner = [qemu]
    else:
        pytest.skip(f"cannot run {built['arch']} code on {platform.machine()}")

    m = manifest(built["image"])
    root = tmp_path / "root"
    root.mkdir()
    layer = tmp_path / "layer.tar"
    layer.write_bytes(read_member(built["image"], m["Layers"][0]))
    with tarfile.open(layer) as tar:
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(root, filter="tar")
        else:
            tar.extractall(root)

    sbin = root / "usr" / "sbin"
    for argv in ([sbin / "dnsbox", "--help"], [sbin / "dnsd", "--help"],
                 [sbin / "dnsbox", "check-config", "-c", root / "etc" / "config" / "dnsbox"]):
        r = subprocess.run([*runner, *map(str, argv)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{argv[1:]} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
