"""Fixtures of the dhcpd tests."""
import pytest

from dhcpd.lan import Lan
from helpers import need_root, need_tool


@pytest.fixture
def lan(netns, dnsbox, tmp_path):
    need_root()
    need_tool("busybox")
    need_tool("dig")
    if "dhcpd" not in dnsbox.run("--help").stdout:
        pytest.skip("this dnsbox has no dhcpd")
    return Lan(netns, dnsbox, tmp_path)
