"""dhcpd with real DHCP clients (busybox udhcpc, ISC dhclient, dhcpcd) in
network namespaces joined by a veth pair; lease names checked in dnsd with
dig; leases in the store and the lease file, renewals across a kill -9.
Nothing leaves the namespaces."""
import os
import signal
import sqlite3
import subprocess

from dhcpd.lan import DHCLIENT_HOOK, SERVER
from helpers import need_tool, wait_for


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
