"""Real primaries for dnsbox as a secondary: Knot (IXFR out from its journal)
and NSD (AXFR only in Debian's 4.6: IXFR requests get a full transfer), each
in a temporary directory on a loopback port, with NOTIFY to dnsbox."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from helpers import need_tool, wait_for


def zone_text(origin: str, serial: int, extra: str = "", refresh: int = 3600, retry: int = 600,
              expire: int = 1209600, count: int = 50) -> str:
    return (f"$ORIGIN {origin}.\n$TTL 300\n"
            f"@ IN SOA ns1 hostmaster {serial} {refresh} {retry} {expire} 60\n"
            "@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.1\nwww IN AAAA 2001:db8::1\n"
            "mail IN MX 10 www\ntxt IN TXT \"hello world\"\n"
            + "".join(f"h{i} IN A 10.0.{i // 256}.{i % 256}\n" for i in range(count)) + extra)


def kdig(port: int, *args: str) -> str:
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+time=2", "+retry=0", "+short", *args],
                       capture_output=True, text=True, timeout=20)
    return r.stdout.strip()


class Primary:
    """A running primary: `port`, `log()`, `stop()`, `set_zone(text)` (writes the
    file and makes the server load it, which NOTIFYs dnsbox)."""
    proc: subprocess.Popen
    dir: Path
    port: int
    origin: str

    def log(self) -> str:
        return (self.dir / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wait_serving(self, serial: int) -> None:
        wait_for(lambda: kdig(self.port, self.origin, "SOA").split()[2:3] == [str(serial)], 15, 0.1,
                 f"the primary to serve serial {serial}")


# The server part both Knot roles share (one worker each, on loopback).
KNOT_SERVER = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{dir}"
"""

KNOT_CONF = KNOT_SERVER + """control:
    listen: "{dir}/knot.sock"
log:
  - target: stderr
    any: info
remote:
  - id: secondary
    address: 127.0.0.1@{secondary}
acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
zone:
  - domain: {origin}
    file: "{dir}/{origin}.zone"
    notify: secondary
    acl: xfr
"""


KNOT_SECONDARY_CONF = KNOT_SERVER + """log:
  - target: stderr
    any: info
remote:
  - id: primary
    address: 127.0.0.1@{primary}
acl:
  - id: from_primary
    address: 127.0.0.0/8
    action: notify
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
zone:
{zones}"""


def knot_secondary_conf(dir: Path, port: int, primary: int, origins: list[str], key: tuple[str, str] | None = None) -> str:
    """knotd as a secondary of dnsbox (on `primary`) for `origins`, taking
    NOTIFY from loopback; with `key`, transfers and NOTIFY need it."""
    zones = "".join(f"  - domain: {o}\n    master: primary\n    acl: from_primary\n" for o in origins)
    return knot_with_key(KNOT_SECONDARY_CONF.format(dir=dir, port=port, primary=primary, zones=zones), key)


def knot_with_key(conf: str, key: tuple[str, str] | None) -> str:
    """`conf` with a TSIG key (name, base64 secret) on its remote and ACL."""
    if key is None:
        return conf
    name, secret = key
    conf = conf.replace("remote:\n", f"key:\n  - id: {name}\n    algorithm: hmac-sha256\n    secret: {secret}\nremote:\n", 1)
    conf = conf.replace("    address: 127.0.0.1@", f"    key: {name}\n    address: 127.0.0.1@")
    return conf.replace("    action: ", f"    key: {name}\n    action: ")


class Knot(Primary):
    def __init__(self, workdir: Path, port: int, secondary_port: int, origin: str, text: str,
                 key: tuple[str, str] | None = None):
        need_tool("knotd")
        need_tool("knotc")
        self.dir = workdir / "knot-primary"
        self.dir.mkdir()
        self.port, self.origin = port, origin
        (self.dir / f"{origin}.zone").write_text(text)
        self.conf = self.dir / "knot.conf"
        self.conf.write_text(knot_with_key(KNOT_CONF.format(dir=self.dir, port=port, secondary=secondary_port,
                                                            origin=origin), key))
        self.proc = subprocess.Popen(["knotd", "-c", str(self.conf)], stdout=open(self.dir / "server.log", "wb"),
                                     stderr=subprocess.STDOUT)

    def set_zone(self, text: str) -> None:
        (self.dir / f"{self.origin}.zone").write_text(text)
        subprocess.run(["knotc", "-c", str(self.conf), "zone-reload", self.origin], check=True,
                       capture_output=True, timeout=20)


NSD_CONF = """server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    zonesdir: "{dir}"
    database: ""
    pidfile: "{dir}/nsd.pid"
    xfrdfile: "{dir}/xfrd.state"
    zonelistfile: "{dir}/zone.list"
    username: ""
    chroot: ""
    verbosity: 2
    server-count: 1
    rrl-ratelimit: 0
    hide-version: yes
remote-control:
    control-enable: yes
    control-interface: {dir}/nsd.ctl
zone:
    name: {origin}
    zonefile: {origin}.zone
    provide-xfr: 127.0.0.0/8 NOKEY
    notify: 127.0.0.1@{secondary} NOKEY
"""


class NSD(Primary):
    def __init__(self, workdir: Path, port: int, secondary_port: int, origin: str, text: str):
        need_tool("nsd")
        need_tool("nsd-control")
        self.dir = workdir / "nsd-primary"
        self.dir.mkdir()
        self.port, self.origin = port, origin
        (self.dir / f"{origin}.zone").write_text(text)
        self.conf = self.dir / "nsd.conf"
        self.conf.write_text(NSD_CONF.format(dir=self.dir, port=port, secondary=secondary_port, origin=origin))
        self.proc = subprocess.Popen(["nsd", "-d", "-c", str(self.conf)], stdout=open(self.dir / "server.log", "wb"),
                                     stderr=subprocess.STDOUT)

    def set_zone(self, text: str) -> None:
        (self.dir / f"{self.origin}.zone").write_text(text)
        subprocess.run(["nsd-control", "-c", str(self.conf), "reload", self.origin], check=True,
                       capture_output=True, timeout=20)
