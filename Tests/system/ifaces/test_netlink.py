"""rtnetlink through libnl, checked against iproute2 in a network namespace."""
import json
import subprocess
import time

from helpers import dnsbox_path, exec_prefix


def dnsbox_in(netns, ns, *args):
    return netns.exec(ns, *exec_prefix(), str(dnsbox_path()), *args, check=False)


def test_ifaces_lists_what_ip_sees(netns, dnsbox_bin):
    a = netns.add("a")
    b = netns.add("b")
    netns.link(a, "veth-a", "192.0.2.1/24", b, "veth-b", "192.0.2.2/24")
    netns.exec(a, "ip", "addr", "add", "2001:db8::1/64", "dev", "veth-a")
    r = dnsbox_in(netns, a, "ifaces")
    assert r.returncode == 0, r.stderr
    ip = json.loads(netns.exec(a, "ip", "-j", "addr", "show").stdout)
    for link in ip:
        assert f"{link['ifindex']}: {link['ifname']} " in r.stdout
        for ai in link.get("addr_info", []):
            fam = "inet" if ai["family"] == "inet" else "inet6"
            assert f"{fam} {ai['local']}/{ai['prefixlen']}" in r.stdout
    assert "veth-a up" in r.stdout


def test_add_and_remove_a_labelled_address(netns, dnsbox_bin):
    a = netns.add("lbl")
    r = dnsbox_in(netns, a, "ifaces", "add", "lo", "198.51.100.53/32", "lo:dns0")
    assert r.returncode == 0, r.stderr
    out = netns.exec(a, "ip", "-4", "addr", "show", "dev", "lo").stdout
    assert "198.51.100.53/32" in out and "lo:dns0" in out
    r = dnsbox_in(netns, a, "ifaces", "add", "lo", "198.51.100.53/32", "lo:dns0")
    assert r.returncode == 1 and "exists" in r.stderr.lower()
    r = dnsbox_in(netns, a, "ifaces", "add", "lo", "2001:db8:53::1/128")
    assert r.returncode == 0, r.stderr
    assert "2001:db8:53::1/128" in netns.exec(a, "ip", "-6", "addr", "show", "dev", "lo").stdout
    r = dnsbox_in(netns, a, "ifaces", "del", "lo", "198.51.100.53/32")
    assert r.returncode == 0, r.stderr
    assert "198.51.100.53" not in netns.exec(a, "ip", "-4", "addr", "show", "dev", "lo").stdout
    r = dnsbox_in(netns, a, "ifaces", "add", "nosuch0", "198.51.100.1/32")
    assert r.returncode == 1 and "nosuch0" in r.stderr


def test_watch_reports_address_changes(netns, dnsbox_bin):
    a = netns.add("watch")
    p = subprocess.Popen(["ip", "netns", "exec", a, *exec_prefix(), str(dnsbox_bin), "ifaces", "watch", "5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "watching"
    netns.exec(a, "ip", "addr", "add", "203.0.113.7/32", "dev", "lo")
    t0 = time.monotonic()
    line = p.stdout.readline()
    assert line.startswith("changed "), line + p.stderr.read()
    assert time.monotonic() - t0 < 2
    p.terminate()
    p.wait(timeout=5)
