"""rtnetlink (dnsbox's own, on a raw NETLINK_ROUTE socket), checked against
iproute2 in network namespaces the tests create."""
import json
import os
import queue
import re
import signal
import subprocess
import threading
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


class Watch:
    """`dnsbox ifaces watch` inside a namespace, its lines read by a thread."""

    def __init__(self, ns, seconds=20):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, *exec_prefix(), str(dnsbox_path()), "ifaces", "watch",
                                   str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern, timeout=3.0):
        """The next line matching `pattern` (a regex, whole line), within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {timeout}s; saw {self.seen}")
            self.seen.append(line)
            if re.fullmatch(pattern, line):
                return line

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=5)


def test_watch_reports_typed_changes(netns, dnsbox_bin):
    a = netns.add("watch")
    w = Watch(a)
    try:
        w.expect("watching")
        netns.exec(a, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
        idx = json.loads(netns.exec(a, "ip", "-j", "link", "show", "veth0").stdout)[0]["ifindex"]
        w.expect(rf"\+link {idx} veth0 down mtu 1500")
        netns.exec(a, "ip", "link", "set", "veth1", "up")
        netns.exec(a, "ip", "link", "set", "veth0", "up")
        w.expect(rf"\+link {idx} veth0 up running mtu 1500")

        netns.exec(a, "ip", "addr", "add", "198.51.100.7/24", "dev", "veth0", "label", "veth0:x")
        w.expect(rf"\+addr {idx} 198\.51\.100\.7/24 label veth0:x")
        netns.exec(a, "ip", "addr", "del", "198.51.100.7/24", "dev", "veth0")
        w.expect(rf"-addr {idx} 198\.51\.100\.7/24 label veth0:x")

        # IPv6 with finite lifetimes (the namespace has DAD off, so not tentative).
        netns.exec(a, "ip", "addr", "add", "2001:db8::7/64", "dev", "veth0", "valid_lft", "3600", "preferred_lft", "1800")
        line = w.expect(rf"\+addr {idx} 2001:db8::7/64 valid \d+ preferred \d+")
        valid, preferred = map(int, re.findall(r"\d+", line.split("/64")[1]))
        assert 3590 <= valid <= 3600 and 1790 <= preferred <= 1800, line
        netns.exec(a, "ip", "addr", "del", "2001:db8::7/64", "dev", "veth0")
        w.expect(rf"-addr {idx} 2001:db8::7/64 valid \d+ preferred \d+")

        # What dnsbox itself adds is reported like anything else.
        assert dnsbox_in(netns, a, "ifaces", "add", "lo", "198.51.100.53/32", "lo:dns0").returncode == 0
        w.expect(r"\+addr 1 198\.51\.100\.53/32 label lo:dns0")

        netns.exec(a, "ip", "link", "del", "veth0")
        w.expect(rf"-link {idx} veth0 (up|down).* mtu 1500")
        assert not any(l.startswith("overflow") for l in w.seen), w.seen
    finally:
        w.stop()


def test_watch_reports_an_overflow_and_keeps_going(netns, dnsbox_bin, tmp_path):
    """Notifications the kernel drops while the watcher is stopped (ENOBUFS)
    are reported as an overflow; events after it are still delivered."""
    a = netns.add("flood")
    w = Watch(a)
    try:
        w.expect("watching")
        os.kill(w.p.pid, signal.SIGSTOP)
        batch = tmp_path / "flood.batch"
        batch.write_text("".join(f"addr add 10.77.{i // 250}.{i % 250 + 1}/32 dev lo\n" for i in range(4000)))
        netns.exec(a, "ip", "-batch", str(batch))
        os.kill(w.p.pid, signal.SIGCONT)
        w.expect(r"overflow .*", timeout=10)
        netns.exec(a, "ip", "addr", "add", "198.51.100.99/32", "dev", "lo")
        w.expect(r"\+addr 1 198\.51\.100\.99/32 label lo", timeout=10)
    finally:
        os.kill(w.p.pid, signal.SIGCONT)
        w.stop()
