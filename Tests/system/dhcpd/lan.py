"""The test network of the dhcpd tests: a server namespace (dhcpd and dnsd)
and a client namespace joined by a veth pair, with real DHCP clients and
crafted packets (dhcp_probe.py beside this file). The `lan` fixture is in
conftest.py."""
import json
import signal
import subprocess
import sys
from pathlib import Path

from helpers import wait_for

PROBE = str(Path(__file__).with_name("dhcp_probe.py"))
SERVER = "192.168.77.1"

UDHCPC_SCRIPT = """#!/bin/sh
echo "$1 $ip" >> {events}
case "$1" in
  bound|renew) ip addr replace "$ip/${{mask:-24}}" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
"""

DHCLIENT_HOOK = """#!/bin/sh
echo "$reason $new_ip_address $new_host_name" >> {events}
case "$reason" in
  BOUND|RENEW|REBOOT) ip addr replace "$new_ip_address/24" dev "$interface" ;;
esac
"""


class Lan:
    """A server namespace (dhcpd + dnsd on `vs`, 192.168.77.1/24) and a client
    namespace (`vc`, no address)."""

    def __init__(self, netns, dnsbox, tmp: Path):
        self.netns, self.dnsbox, self.tmp = netns, dnsbox, tmp
        self.srv = netns.add("dhs")
        self.cli = netns.add("dhc")
        netns.link(self.srv, "vs", f"{SERVER}/24", self.cli, "vc", None)
        self.leasefile = tmp / "dhcp.leases"
        self.procs: dict[str, subprocess.Popen] = {}

    def config(self, dhcp_extra: str = "", rest: str = "") -> None:
        self.dnsbox.write_config(
            "config dnsd 'main'\n\tlist listen '127.0.0.1:5300'\n\toption workers '1'\n"
            "config dhcp 'lan'\n\toption interface 'vs'\n\toption start '100'\n\toption limit '20'\n"
            "\toption leasetime '1h'\n\toption domain 'lan'\n\tlist search 'lan'\n"
            f"\toption leasefile '{self.leasefile}'\n" + dhcp_extra +
            "config host\n\tlist mac '02:00:00:00:00:50'\n\tlist mac '02:00:00:00:00:51'\n"
            "\toption ip '192.168.77.50'\n\toption name 'server1'\n\toption leasetime 'infinite'\n" + rest)

    def start(self, applet: str) -> subprocess.Popen:
        before = self.dnsbox.log(applet).count(" ready ")
        p = self.dnsbox.start(applet, "-c", str(self.dnsbox.config_path), name=applet,
                              wrap=["ip", "netns", "exec", self.srv])
        self.procs[applet] = p
        wait_for(lambda: self.dnsbox.log(applet).count(" ready ") > before, 10, 0.05, f"{applet} ready")
        return p

    def kill9(self, applet: str) -> None:
        # The wrapper execs the applet, so the Popen pid is dnsbox's.
        self.procs[applet].send_signal(signal.SIGKILL)
        self.procs[applet].wait()

    def ctl(self, applet: str, command: str) -> str:
        return self.netns.exec(self.srv, *self.dnsbox.argv("ctl", "-c", str(self.dnsbox.config_path), applet, command),
                               check=False).stdout

    def dig(self, *args: str) -> str:
        return self.netns.exec(self.srv, "dig", "@127.0.0.1", "-p", "5300", "+time=2", "+tries=1", *args).stdout

    def set_mac(self, mac: str) -> None:
        self.netns.exec(self.cli, "ip", "addr", "flush", "dev", "vc")
        self.netns.exec(self.cli, "ip", "link", "set", "vc", "address", mac)

    def client_addr(self) -> str:
        out = self.netns.exec(self.cli, "ip", "-4", "-o", "addr", "show", "vc").stdout.split()
        return out[out.index("inet") + 1].split("/")[0] if "inet" in out else ""

    def probe(self, msgs: list[dict], wait: float = 1.5, port: int = 68) -> list[dict]:
        r = self.netns.exec(self.cli, sys.executable, PROBE, "vc", json.dumps(msgs), str(wait), str(port), timeout=30)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def udhcpc(self, hostname: str, *extra: str, timeout: float = 20) -> subprocess.CompletedProcess:
        events = self.tmp / "udhcpc.events"
        script = self.tmp / "udhcpc.sh"
        script.write_text(UDHCPC_SCRIPT.format(events=events))
        script.chmod(0o755)
        return self.netns.exec(self.cli, "busybox", "udhcpc", "-i", "vc", "-t", "5", "-T", "1",
                               "-x", f"hostname:{hostname}", "-s", str(script), *extra, timeout=timeout, check=False)


def opt(reply: dict, code: int) -> bytes:
    return bytes.fromhex(reply["options"].get(str(code), ""))
