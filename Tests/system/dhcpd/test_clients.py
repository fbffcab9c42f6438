"""dhcpd with real DHCP clients (busybox udhcpc, ISC dhclient, dhcpcd) in
network namespaces joined by a veth pair; lease names checked in dnsd with
dig; crafted packets (dhcp_probe.py beside this file) for PXE, DECLINE, foreign
server identifiers and malformed input. Nothing leaves the namespaces."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import need_root, need_tool, wait_for

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


@pytest.fixture
def lan(netns, dnsbox, tmp_path):
    need_root()
    need_tool("busybox")
    need_tool("dig")
    if "dhcpd" not in dnsbox.run("--help").stdout:
        pytest.skip("this dnsbox has no dhcpd")
    return Lan(netns, dnsbox, tmp_path)


def test_udhcpc_gets_a_lease_its_name_resolves_and_release_frees_it(lan):
    lan.config()
    lan.start("dhcpd")
    lan.start("dnsd")
    lan.set_mac("02:00:00:00:00:01")
    r = lan.udhcpc("Laptop", "-n", "-q")
    assert "obtained" in r.stderr + r.stdout, r.stderr
    addr = lan.client_addr()
    assert addr.startswith("192.168.77.1") and 100 <= int(addr.split(".")[3]) < 120, addr
    # The lease is in the store (durable before the ACK) and in the lease file.
    db = sqlite3.connect(lan.dnsbox.database)
    rows = db.execute("SELECT address, mac, state, name FROM leases").fetchall()
    assert rows == [(addr, "02:00:00:00:00:01", 2, "laptop")], rows
    wait_for(lambda: lan.leasefile.exists() and addr in lan.leasefile.read_text(), 3, 0.05, "lease file")
    line = lan.leasefile.read_text().split()
    assert line[1:4] == ["02:00:00:00:00:01", addr, "laptop"], line
    wait_for(lambda: lan.dig("laptop.lan", "+short").strip() == addr, 2, 0.05, "laptop.lan in DNS")
    assert "laptop.lan." in lan.dig("-x", addr, "+short")
    # RELEASE (a crafted one with the client's ciaddr): the name goes away.
    # (udhcpc sends a client identifier, option 61: 1 + its MAC.)
    lan.probe([{"type": 7, "mac": "02:00:00:00:00:01", "ciaddr": addr, "to": SERVER,
                "options": {"54": "c0a84d01", "61": "01020000000001"}}], wait=0.3)
    wait_for(lambda: "NXDOMAIN" in lan.dig("laptop.lan"), 3, 0.05, "laptop.lan gone after RELEASE")
    assert "NXDOMAIN" in lan.dig("-x", addr)
    assert db.execute("SELECT count(*) FROM leases").fetchone()[0] == 0


def test_dhclient_and_dhcpcd_get_leases_and_the_reservation_is_shared(lan):
    need_tool("dhclient")
    need_tool("dhcpcd")
    lan.config()
    lan.start("dhcpd")
    lan.start("dnsd")
    events = lan.tmp / "dhclient.events"
    hook = lan.tmp / "dhclient.sh"
    hook.write_text(DHCLIENT_HOOK.format(events=events))
    hook.chmod(0o755)
    # Both MACs of the reservation get 192.168.77.50 and the name server1.
    for mac in ("02:00:00:00:00:50", "02:00:00:00:00:51"):
        lan.set_mac(mac)
        # Without -d, dhclient goes to the background once bound.
        leases = lan.tmp / f"{mac[-2:]}.leases"
        lan.netns.exec(lan.cli, "dhclient", "-1", "-lf", str(leases), "-pf", str(lan.tmp / f"{mac[-2:]}.pid"),
                       "-sf", str(hook), "vc", timeout=30, check=False)
        assert lan.client_addr() == "192.168.77.50", events.read_text()
        subprocess.run(["pkill", "-f", f"dhclient -1 -lf {leases}"], check=False)
        assert "server1" in events.read_text().splitlines()[-1]
    wait_for(lambda: lan.dig("server1.lan", "+short").strip() == "192.168.77.50", 3, 0.05, "server1.lan in DNS")
    # dhcpcd configures the interface itself.
    lan.set_mac("02:00:00:00:00:02")
    conf = lan.tmp / "dhcpcd.conf"
    conf.write_text("nohook resolv.conf\noption host_name\n")
    r = lan.netns.exec(lan.cli, "sh", "-c",
                       "mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd"
                       f" 2>/dev/null; exec dhcpcd -f {conf} -1 -4 -B -d -h phone vc", timeout=40, check=False)
    assert "leased" in r.stderr + r.stdout, r.stderr[-2000:]
    addr = lan.client_addr()
    assert addr.startswith("192.168.77.1"), addr
    wait_for(lambda: lan.dig("phone.lan", "+short").strip() == addr, 3, 0.05, "phone.lan in DNS")


def test_renew_works_and_survives_a_dhcpd_kill9(lan):
    lan.config(dhcp_extra="\toption leasetime '2m'\n")
    lan.start("dhcpd")
    lan.set_mac("02:00:00:00:00:03")
    pidfile = lan.tmp / "udhcpc.pid"
    r = lan.udhcpc("tablet", "-b", "-p", str(pidfile))
    assert r.returncode == 0, r.stderr
    wait_for(lambda: lan.client_addr() != "", 10, 0.1, "udhcpc bound")
    addr = lan.client_addr()
    events = lan.tmp / "udhcpc.events"
    # SIGUSR1: udhcpc renews now (unicast REQUEST with ciaddr).
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGUSR1)
    wait_for(lambda: f"renew {addr}" in events.read_text(), 5, 0.1, "renewed")
    # dhcpd dies without warning; a new one knows the lease from the store.
    lan.kill9("dhcpd")
    lan.start("dhcpd")
    before = events.read_text().count("renew")
    os.kill(pid, signal.SIGUSR1)
    wait_for(lambda: events.read_text().count("renew") > before, 5, 0.1, "renewed after restart")
    assert events.read_text().splitlines()[-1] == f"renew {addr}"
    assert lan.client_addr() == addr
    os.kill(pid, signal.SIGTERM)


def test_pxe_boot_files_by_architecture_and_ipxe(lan):
    lan.config(dhcp_extra="\toption next_server '192.168.77.5'\n\toption boot_file 'pxelinux.0'\n"
                          "\toption boot_file_efi 'grubx64.efi'\n\toption ipxe_boot_url 'http://192.168.77.5/boot.ipxe'\n"
                          "\tlist option '42,192.168.77.1'\n")
    lan.start("dhcpd")
    bios, efi, ipxe = (lan.probe([{"type": 1, "mac": f"02:00:00:00:01:0{i}", "xid": i, "options": o}])[0]
                       for i, o in ((1, {}), (2, {"93": "0007"}), (3, {"77": "0469505845"})))
    assert bios["type"] == 2 and opt(bios, 67) == b"pxelinux.0" and bios["file"] == "pxelinux.0"
    assert bios["siaddr"] == "192.168.77.5" and opt(bios, 66) == b"192.168.77.5"
    assert opt(efi, 67) == b"grubx64.efi"
    assert opt(ipxe, 67) == b"http://192.168.77.5/boot.ipxe"
    assert opt(bios, 42) == bytes([192, 168, 77, 1])
    # Option 119 (RFC 3397), T1/T2 and the server identifier.
    assert opt(bios, 119) == b"\x03lan\x00" and opt(bios, 54) == bytes([192, 168, 77, 1])
    assert int.from_bytes(opt(bios, 58), "big") == 1800 and int.from_bytes(opt(bios, 59), "big") == 3150


def test_exhausted_pool_decline_foreign_server_and_malformed_packets(lan):
    lan.config(dhcp_extra="\toption limit '2'\n")
    lan.start("dhcpd")
    a = lan.probe([{"type": 1, "mac": "02:00:00:00:02:01", "xid": 1}])[0]["yiaddr"]
    b = lan.probe([{"type": 1, "mac": "02:00:00:00:02:02", "xid": 2}])[0]["yiaddr"]
    assert a != b
    # Both addresses are offered: a third client gets nothing, and the log says why.
    assert lan.probe([{"type": 1, "mac": "02:00:00:00:02:03", "xid": 3}], wait=1.0) == []
    assert "pool exhausted" in lan.dnsbox.log("dhcpd")
    # A REQUEST naming another server is ignored (no reply) and frees the offer.
    assert lan.probe([{"type": 3, "mac": "02:00:00:00:02:01", "xid": 4,
                       "options": {"54": "c0a84d02", "50": bytes(map(int, a.split("."))).hex()}}], wait=1.0) == []
    c = lan.probe([{"type": 1, "mac": "02:00:00:00:02:03", "xid": 5}])
    assert [r["yiaddr"] for r in c] == [a]
    # DECLINE: that address is held; the client is offered another one.
    req = {"type": 3, "mac": "02:00:00:00:02:03", "xid": 6, "options": {"54": "c0a84d01", "50": bytes(map(int, a.split("."))).hex()}}
    assert lan.probe([req])[0]["type"] == 5
    lan.probe([{"type": 4, "mac": "02:00:00:00:02:03", "xid": 7,
                "options": {"54": "c0a84d01", "50": bytes(map(int, a.split("."))).hex()}}], wait=0.3)
    # Pool of 2: a declined, b offered to .02 → nothing left for .03 now.
    assert lan.probe([{"type": 1, "mac": "02:00:00:00:02:03", "xid": 8}], wait=1.0) == []
    # Malformed packets are dropped with a log line; the server goes on serving.
    lan.probe([{"raw": "0101"}, {"raw": "01010600" + "00" * 232 + "63825363" + "3505"},
               {"raw": "01010600" + "00" * 232 + "deadbeef"}], wait=0.3)
    log = lan.dnsbox.log("dhcpd")
    assert log.count("dropped a malformed packet") >= 2, log[-2000:]
    assert lan.probe([{"type": 1, "mac": "02:00:00:00:02:02", "xid": 9}])[0]["yiaddr"] == b


def test_two_dhcp_sections_and_a_relay_served_from_its_subnets_pool(lan):
    """A second `config dhcp` on another interface (192.168.78.1/24):
    a relayed DISCOVER whose giaddr is in that subnet gets an address from its
    pool, with that interface's address as server identifier, sent back to the
    relay (port 67) even though it came in on `vs`; a giaddr in no served
    subnet gets nothing; the first interface still serves its own clients."""
    ns = lan.netns
    # (No dummy driver everywhere: a veth pair with both ends in the server's namespace.)
    ns.exec(lan.srv, "ip", "link", "add", "vs2", "type", "veth", "peer", "name", "vs2p")
    ns.exec(lan.srv, "ip", "addr", "add", "192.168.78.1/24", "dev", "vs2")
    ns.exec(lan.srv, "ip", "link", "set", "vs2p", "up")
    ns.exec(lan.srv, "ip", "link", "set", "vs2", "up")
    # The client namespace plays the relay agent 192.168.78.254, reached over vs.
    ns.exec(lan.cli, "ip", "addr", "add", "192.168.77.2/24", "dev", "vc")
    ns.exec(lan.cli, "ip", "addr", "add", "192.168.78.254/32", "dev", "vc")
    ns.exec(lan.srv, "ip", "route", "add", "192.168.78.254/32", "via", "192.168.77.2", "dev", "vs")
    lan.config(rest="config dhcp 'lab'\n\toption interface 'vs2'\n\toption start '100'\n\toption limit '20'\n"
                    "\toption leasetime '1h'\n")
    lan.start("dhcpd")
    st = lan.ctl("dhcpd", "status")
    assert "interfaces=2" in st, st
    relayed = {"type": 1, "mac": "02:00:00:00:78:01", "giaddr": "192.168.78.254", "to": SERVER, "broadcast": False}
    replies = lan.probe([relayed], port=67)
    assert len(replies) == 1 and replies[0]["type"] == 2, replies
    offer = replies[0]
    assert offer["yiaddr"].startswith("192.168.78.") and 100 <= int(offer["yiaddr"].split(".")[3]) < 120, offer
    assert opt(offer, 54) == bytes([192, 168, 78, 1]), offer
    # REQUEST through the relay: ACKed and stored under the second interface.
    req = dict(relayed, type=3, options={"50": bytes(map(int, offer["yiaddr"].split("."))).hex(), "54": "c0a84e01"})
    replies = lan.probe([req], port=67)
    assert [r["type"] for r in replies] == [5] and replies[0]["yiaddr"] == offer["yiaddr"], replies
    with sqlite3.connect(lan.dnsbox.database) as db:
        rows = db.execute("SELECT interface, state FROM leases WHERE address = ?", (offer["yiaddr"],)).fetchall()
    assert rows == [("vs2", 2)], rows
    # A relay in a subnet no section serves: nothing.
    assert lan.probe([dict(relayed, mac="02:00:00:00:78:02", giaddr="10.9.9.9")], wait=1.0, port=67) == []
    assert "no pool for the relay's subnet" in lan.dnsbox.log("dhcpd")
    # The first section still serves its own clients.
    ns.exec(lan.cli, "ip", "addr", "flush", "dev", "vc")
    replies = lan.probe([{"type": 1, "mac": "02:00:00:00:77:09"}])
    assert len(replies) == 1 and replies[0]["yiaddr"].startswith("192.168.77."), replies
