"""Fixtures of the dnsd tests: an authoritative dnsd (`dnsd`), Knot upstreams
(`knots`) and the skip for a dnsd without forwarding (`forwarding`)."""
from __future__ import annotations

import subprocess

import pytest

from dnsd.authoritative import ZONE, free_port
from dnsd.upstream import Knot
from helpers import exec_prefix, need_tool


@pytest.fixture
def dnsd(dnsbox, tmp_path):
    need_tool("dig")
    (tmp_path / "example.com.zone").write_text(ZONE)
    port = free_port()
    dnsbox.write_config(
        "config dnsd 'main'\n"
        f"\tlist listen '127.0.0.1:{port}'\n"
        f"\tlist listen '[::1]:{port}'\n"
        "\toption nsid 'test-ns'\n"
        "config zone\n\toption name 'example.com'\n"
        f"\toption file '{tmp_path / 'example.com.zone'}'\n"
        "config zone\n\toption name 'home.lan'\n\toption ttl '120'\n"
        "config record\n\toption zone 'home.lan'\n\toption name 'nas'\n\toption type 'A'\n\toption value '192.168.1.10'\n"
    )
    p = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port
    dnsbox.proc = p
    return dnsbox


@pytest.fixture
def knots(tmp_path):
    """Starts Knot peers for a test; all are stopped at teardown."""
    started: list[Knot] = []

    def make(zones: dict[str, str], **kw) -> Knot:
        k = Knot(tmp_path, zones, name=kw.pop("name", f"knot{len(started)}"), **kw)
        started.append(k)
        return k.start()

    yield make
    for k in started:
        k.stop()


@pytest.fixture(scope="module")
def forwarding(dnsbox_bin):
    """Skips when the dnsd under test has no forwarding yet."""
    need_tool("dig")
    r = subprocess.run([*exec_prefix(), str(dnsbox_bin), "--help", "dnsd"], capture_output=True, text=True,
                       timeout=30)
    if "forwarder" not in r.stdout + r.stderr:
        pytest.skip("this dnsd has no forwarder option (forwarding not built in)")
