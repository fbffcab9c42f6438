"""System-test harness for dnsbox (pytest, in the manner of BIND's system tests).

Fixtures start real dnsbox processes with a config written per test, wait for
readiness through the applet's control socket, keep each process's log in the
test's directory (printed when a test fails), and create network namespaces
with veth pairs for tests that need several hosts. Nothing is sent beyond
loopback or namespaces created here.

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
