"""System-test harness for dnsbox (pytest, in the manner of BIND's system tests).

Fixtures start real dnsbox processes with a config written per test, wait for
readiness through the applet's control socket, keep each process's log in the
test's directory (printed when a test fails), and create network namespaces
with veth pairs for tests that need several hosts. Nothing is sent beyond
loopback or namespaces created here.

Layout: one folder per area (an applet or a part of the binary: dnsd/,
dhcpd/, api/, init/, config/, dispatch/, store/, ifaces/, privileges/,
firmware/), each a package with test_<scenario>.py files, one scenario per
test; the fixtures and helper modules an area shares sit beside its tests
(its conftest.py, e.g. dnsd/upstream.py, api/client.py, dhcpd/lan.py). What
every area uses is here (fixtures) and in helpers.py (plain functions and
classes: `from helpers import ...`). A new applet gets its own folder (rad/,
mdnsd/, bgpd/; DHCPv6 beside DHCPv4 in dhcpd/; another API flavour such as
DirectAdmin's as a scenario file in api/). No test imports another test
file. pytest.ini makes this directory the rootdir, so the whole suite, one
area or one file runs the same from anywhere:

    python3 -m pytest -q -rs Tests/system
    python3 -m pytest -q -rs Tests/system/dnsd
    python3 -m pytest -q -rs Tests/system/dnsd/test_cache.py

The binary under test is $DNSBOX_BIN (default: the host build). For a firmware
binary of another architecture set DNSBOX_EXEC_PREFIX (e.g.
"qemu-aarch64-static"); tests that need init to re-exec itself skip there.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import Dnsbox, Netns, dnsbox_path, need_root, need_tool


@pytest.fixture(scope="session")
def dnsbox_bin() -> Path:
    p = dnsbox_path()
    if not p.exists():
        pytest.skip(f"{p} not built (make build, or set DNSBOX_BIN)")
    return p


@pytest.fixture
def dnsbox(dnsbox_bin: Path, tmp_path: Path, request):
    d = Dnsbox(dnsbox_bin, tmp_path)
    yield d
    d.stop_all()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for _, log in d.procs:
            if log.exists():
                print(f"\n----- {log.name} -----\n{log.read_text(errors='replace')[-4000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def netns():
    need_root()
    need_tool("ip")
    n = Netns()
    yield n
    n.cleanup()
