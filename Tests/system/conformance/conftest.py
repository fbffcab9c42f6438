"""Fixtures of the conformance tests: the genreport binary (`genreport`, built
once, see genreport.py) and an authoritative dnsd (`authoritative`) serving
zone.py's ZONE on a free loopback port (`.port`), with NSID set."""
from __future__ import annotations

import pytest

from conformance import genreport as gr
from conformance.zone import ZONE, ZONE_NAME
from dnsd.authoritative import dig, free_port
from helpers import need_tool


@pytest.fixture(scope="session")
def genreport():
    return gr.build()


@pytest.fixture
def authoritative(dnsbox, tmp_path):
    need_tool("dig")
    zone_file = tmp_path / f"{ZONE_NAME}.zone"
    zone_file.write_text(ZONE)
    port = free_port()
    dnsbox.write_config(
        "config dnsd 'main'\n"
        f"\tlist listen '127.0.0.1:{port}'\n"
        f"\tlist listen '[::1]:{port}'\n"
        "\toption nsid 'test-ns'\n"
        f"config zone\n\toption name '{ZONE_NAME}'\n\toption file '{zone_file}'\n"
    )
    dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port
    assert "status: NOERROR" in dig(dnsbox, ZONE_NAME, "SOA"), "the zone did not load:\n" + dnsbox.log("dnsd")
    return dnsbox
