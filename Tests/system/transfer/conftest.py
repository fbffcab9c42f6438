"""Fixtures of the transfer tests: dnsbox as a secondary (`secondary`) of a
primary the test starts, and the dig helpers."""
from __future__ import annotations

import pytest

from dnsd.authoritative import free_port
from helpers import need_tool


class Secondary:
    """dnsbox's dnsd as a secondary of one zone: `start()`, `port`."""

    def __init__(self, dnsbox, origin: str, primary_port: int, port: int, extra: str = ""):
        self.d = dnsbox
        self.origin = origin
        self.port = port
        self.primary_port = primary_port
        self.extra = extra
        dnsbox.port = self.port

    def start(self):
        self.d.write_config(
            "config dnsd 'main'\n"
            f"\tlist listen '127.0.0.1:{self.port}'\n"
            "\toption workers '1'\n"
            "config zone\n"
            f"\toption name '{self.origin}'\n"
            f"\tlist primary '127.0.0.1:{self.primary_port}'\n"
            "\tlist allow_transfer '127.0.0.0/8'\n" + self.extra)
        self.d.proc = self.d.start("dnsd", "-c", str(self.d.config_path), name="dnsd")
        self.d.wait_ready("dnsd")
        return self

    def log(self) -> str:
        return self.d.log("dnsd")


@pytest.fixture
def ports():
    need_tool("dig")
    need_tool("kdig")
    return free_port(), free_port()   # the primary's, dnsbox's
