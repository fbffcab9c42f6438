"""The firmware binaries (static musl, Embedded Swift): aarch64 under
qemu-aarch64-static, x86_64 natively. The whole system suite also runs against
out/x86_64/dnsbox in CI (DNSBOX_BIN); this file checks what is specific to the
firmware build and runs the aarch64 smoke test."""
import os
import shutil
import subprocess

import pytest

from helpers import ROOT, wait_for

ARCHES = {"aarch64": ("ARM aarch64", ["qemu-aarch64-static"]), "x86_64": ("x86-64", [])}


@pytest.fixture(params=sorted(ARCHES))
def fw(request, tmp_path):
    arch = request.param
    binary = ROOT / "out" / arch / "dnsbox"
    if not binary.exists():
        pytest.skip(f"firmware not built (make firmware ARCH={arch})")
    file_word, prefix = ARCHES[arch]
    if prefix and not shutil.which(prefix[0]):
        pytest.skip(f"{prefix[0]} is not installed (scripts/setup.sh installs qemu-user-static)")
    return arch, binary, file_word, prefix, tmp_path


def run(prefix, *argv, **kw):
    return subprocess.run([*prefix, *map(str, argv)], capture_output=True, text=True, timeout=60, **kw)


def test_static_stripped_binary_of_the_right_arch(fw):
    arch, binary, file_word, _, _ = fw
    out = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True).stdout
    assert file_word in out and "statically linked" in out and "stripped" in out
    assert binary.stat().st_size < 4 * 1024 * 1024


def test_version_and_symlink_dispatch(fw):
    arch, binary, _, prefix, tmp = fw
    r = run(prefix, binary, "--version")
    assert r.returncode == 0 and "firmware" in r.stdout and arch in r.stdout
    for name in ("rad", "init", "apictl"):
        (tmp / name).symlink_to(binary)
    r = run(prefix, tmp / "rad")
    assert r.returncode == 69 and "not yet available" in r.stderr
    r = run(prefix, tmp / "init", "--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage: init")
    r = run(prefix, binary, "bogus")
    assert r.returncode == 2


def test_config_errors_and_show(fw):
    _, binary, _, prefix, tmp = fw
    conf = tmp / "c.conf"
    conf.write_text("config dnsbox 'main'\n\toption log_levle 'debug'\n")
    r = run(prefix, binary, "check-config", "-c", conf)
    assert r.returncode == 1
    assert f"at {conf}:2:9; did you mean 'log_level'?" in r.stderr
    conf.write_text("config dnsbox 'main'\n\toption log_level 'debug'\nconfig dhcp\n\tlist interface 'x'\n")
    r = run(prefix, binary, "check-config", "-c", conf)
    assert r.returncode == 1 and f"{conf}:4" in r.stderr
    conf.write_text("config dnsbox 'main'\n\toption log_level 'debug'\n")
    r = run(prefix, binary, "show-config", "-c", conf)
    assert r.returncode == 0 and "dnsbox.main.log_level='debug'" in r.stdout


def test_opens_the_store(fw):
    _, binary, _, prefix, tmp = fw
    db = tmp / "state" / "dnsbox.db"
    assert run(prefix, binary, "db", "-D", db, "set", "peers", "ns1", "192.0.2.53").returncode == 0
    r = run(prefix, binary, "db", "-D", db, "get", "peers", "ns1")
    assert r.returncode == 0 and r.stdout.strip() == "192.0.2.53"
    r = run(prefix, binary, "db", "-D", db, "info")
    assert "schema_version: 7" in r.stdout and "generation: 1" in r.stdout
    assert run(prefix, binary, "db", "-D", db, "check").stdout.strip() == "ok"
    assert (db.parent.stat().st_mode & 0o777) == 0o750
    if shutil.which("sqlite3"):
        out = subprocess.run(["sqlite3", str(db), "PRAGMA integrity_check; SELECT value FROM kv;"],
                             capture_output=True, text=True).stdout.split()
        assert out == ["ok", "192.0.2.53"]


def test_netlink_works(fw):
    _, binary, _, prefix, _ = fw
    r = run(prefix, binary, "ifaces")
    assert r.returncode == 0, r.stderr
    assert ": lo up" in r.stdout and "inet 127.0.0.1/8" in r.stdout


def test_init_supervises_under_the_firmware_build(fw):
    arch, binary, _, prefix, tmp = fw
    if prefix:
        # init re-executes /proc/self/exe: under user-mode qemu that needs binfmt_misc.
        if not os.path.exists(f"/proc/sys/fs/binfmt_misc/qemu-{arch}"):
            pytest.skip(f"binfmt_misc has no qemu-{arch} entry: init cannot re-exec an {arch} child here")
    conf = tmp / "c.conf"
    conf.write_text(f"config dnsbox 'main'\n\toption database '{tmp}/db/x.db'\n\toption rundir '{tmp}/run'\n"
                    "config idle 'main'\n")
    log = open(tmp / "init.log", "wb")
    p = subprocess.Popen([*prefix, str(binary), "init", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        ctl = lambda app, cmd: run(prefix, binary, "ctl", "-c", conf, app, cmd).stdout
        wait_for(lambda: ctl("idle", "ping").strip() == "pong", timeout=20, what="idle under init")
        assert "idle pid=" in ctl("init", "status")
    finally:
        p.terminate()
        assert p.wait(timeout=15) == 0
        log.close()


def test_dnsd_answers_dig(fw):
    """The firmware's dnsd (aarch64 under qemu) serves a zone to dig."""
    import socket
    _, binary, _, prefix, tmp = fw
    if not shutil.which("dig"):
        pytest.skip("dig is not installed (scripts/setup.sh installs dnsutils)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp / "c.conf"
    conf.write_text(f"config dnsbox 'main'\n\toption database '{tmp}/db/x.db'\n\toption rundir '{tmp}/run'\n"
                    f"config dnsd 'main'\n\tlist listen '127.0.0.1:{port}'\n"
                    "config zone\n\toption name 'fw.test'\n"
                    "config record\n\toption zone 'fw.test'\n\toption name 'www'\n\toption type 'A'\n"
                    "\toption value '192.0.2.44'\n")
    log = open(tmp / "dnsd.log", "wb")
    p = subprocess.Popen([*prefix, str(binary), "dnsd", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        def answer():
            r = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=1", "+tries=1", "+short", "www.fw.test"],
                               capture_output=True, text=True)
            out = r.stdout.strip()
            return out if out and not out.startswith(";") else None  # dig's errors start with ';;'
        assert wait_for(answer, timeout=30, interval=0.2, what="dnsd answering") == "192.0.2.44"
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tcp", "nope.fw.test"], capture_output=True, text=True)
        assert "status: NXDOMAIN" in r.stdout and "flags: qr aa" in r.stdout
    finally:
        p.terminate()
        assert p.wait(timeout=15) == 0
        log.close()
