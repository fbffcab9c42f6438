"""Interfaces followed as they come and go (rtnetlink events, no polling,
no restart): a DHCP interface that has no address when dhcpd and dnsd start,
and one that does not exist yet, are served once they are there; dnsd serves
their reverse zones from then on."""
import time

from helpers import wait_for


def config(lan, second: bool = True) -> None:
    lan.dnsbox.write_config(
        "config dnsd 'main'\n\tlist listen '127.0.0.1:5300'\n\toption workers '1'\n"
        "config dhcp 'lan'\n\toption interface 'vs'\n\toption start '100'\n\toption limit '20'\n"
        "\toption leasetime '1h'\n\toption domain 'lan'\n"
        f"\toption leasefile '{lan.leasefile}'\n"
        + ("config dhcp 'guest'\n\toption interface 'gs'\n\toption start '10'\n\toption limit '5'\n"
           "\toption domain 'guest'\n" if second else ""))


def served(lan) -> int:
    out = lan.ctl("dhcpd", "status")
    return int(out.split("interfaces=")[1].split()[0]) if "interfaces=" in out else -1


def test_an_address_added_after_start_is_served_by_dhcpd_and_dnsd(lan):
    # The server side of the veth starts without an address.
    lan.netns.exec(lan.srv, "ip", "addr", "flush", "dev", "vs")
    config(lan)
    lan.start("dhcpd")
    lan.start("dnsd")
    assert served(lan) == 0
    assert "served once it has" in lan.dnsbox.log("dhcpd")
    # No subnet yet: its reverse zone is not served.
    assert "REFUSED" in lan.dig("-x", "192.168.77.150")
    lan.netns.exec(lan.srv, "ip", "addr", "add", "192.168.77.1/24", "dev", "vs")
    wait_for(lambda: served(lan) == 1, 5, 0.05, "dhcpd serving vs")
    # dnsd now serves the subnet's reverse zone: a name without a lease is NXDOMAIN, not REFUSED.
    wait_for(lambda: "NXDOMAIN" in lan.dig("-x", "192.168.77.150"), 5, 0.05, "the reverse zone in dnsd")
    lan.set_mac("02:00:00:00:00:07")
    r = lan.udhcpc("Later", "-n", "-q")
    assert "obtained" in r.stderr + r.stdout, r.stderr
    addr = lan.client_addr()
    wait_for(lambda: lan.dig("later.lan", "+short").strip() == addr, 3, 0.05, "later.lan in DNS")
    assert "later.lan." in lan.dig("-x", addr, "+short")
    # Neither process restarted to get there.
    assert lan.procs["dhcpd"].poll() is None and lan.procs["dnsd"].poll() is None
    assert lan.dnsbox.log("dhcpd").count(" ready ") == 1


def test_an_interface_created_after_start_is_served_and_one_removed_is_not(lan):
    config(lan)
    lan.start("dhcpd")
    lan.start("dnsd")
    wait_for(lambda: served(lan) == 1, 5, 0.05, "dhcpd serving vs")
    # A second link appears: the `guest` section's interface.
    gc = lan.netns.add("gc")
    lan.netns.link(lan.srv, "gs", "192.168.78.1/24", gc, "gc0", None)
    wait_for(lambda: served(lan) == 2, 5, 0.05, "dhcpd serving the new interface")
    wait_for(lambda: "NXDOMAIN" in lan.dig("-x", "192.168.78.12"), 5, 0.05, "the new reverse zone in dnsd")
    r = lan.netns.exec(gc, "busybox", "udhcpc", "-i", "gc0", "-n", "-q", "-t", "5", "-T", "1",
                       "-x", "hostname:guest1", "-s", "/bin/true", timeout=20, check=False)
    assert "lease of 192.168.78.1" in r.stderr + r.stdout, r.stderr
    wait_for(lambda: lan.dig("guest1.guest", "+short").strip().startswith("192.168.78.1"), 3, 0.05,
             "guest1.guest in DNS")
    # The link goes away: no longer served, and nothing restarted.
    lan.netns.exec(lan.srv, "ip", "link", "del", "gs")
    wait_for(lambda: served(lan) == 1, 5, 0.05, "dhcpd no longer serving the removed interface")
    time.sleep(0.2)
    assert lan.procs["dhcpd"].poll() is None and lan.procs["dnsd"].poll() is None
