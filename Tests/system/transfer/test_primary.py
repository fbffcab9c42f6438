"""Zone transfers out and NOTIFY: dig/kdig AXFR, and Knot (knotd) as a real
secondary of dnsbox that follows every change after a NOTIFY."""
import re
import socket
import subprocess
import time

import pytest

from dnsd.authoritative import dig, free_port
from helpers import need_tool, section, wait_for
from transfer.primaries import knot_secondary_conf

SOA = "@ IN SOA ns1 hostmaster {serial} 3600 600 1209600 60\n"
BODY = """$TTL 300
@       IN NS  ns1
ns1     IN A   192.0.2.53
www     IN A   192.0.2.1
mail    IN MX  10 www
txt     IN TXT "a \\"quoted\\" string" "and a second"
odd     IN TYPE65534 \\# 3 abcdef
""" + "".join(f"h{i} IN A 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}\n" for i in range(8000))


def zone_text(serial: int, extra: str = "") -> str:
    return "$TTL 300\n" + SOA.format(serial=serial) + BODY + extra


@pytest.fixture
def primary(dnsbox, tmp_path):
    need_tool("dig")
    (tmp_path / "example.com.zone").write_text(zone_text(1))
    port = free_port()
    knot_port = free_port()
    dnsbox.write_config(
        "config dnsd 'main'\n"
        f"\tlist listen '127.0.0.1:{port}'\n"
        "\toption workers '2'\n"
        "config zone\n\toption name 'example.com'\n"
        f"\toption file '{tmp_path / 'example.com.zone'}'\n"
        "\tlist allow_transfer '127.0.0.0/8'\n"
        f"\tlist notify '127.0.0.1:{knot_port}'\n"
        "config zone\n\toption name 'home.lan'\n\toption ttl '120'\n"
        "\tlist allow_transfer '127.0.0.1'\n"
        f"\tlist notify '127.0.0.1:{knot_port}'\n"
        "config record\n\toption zone 'home.lan'\n\toption name 'nas'\n\toption type 'A'\n\toption value '192.168.1.10'\n"
        "config zone\n\toption name 'closed.test'\n"
        "config record\n\toption zone 'closed.test'\n\toption name 'x'\n\toption type 'A'\n\toption value '192.0.2.8'\n"
    )
    dnsbox.proc = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port
    dnsbox.knot_port = knot_port
    return dnsbox


def axfr(d, zone, *extra):
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(d.port), "+time=5", "+tries=1", zone, "AXFR", *extra],
                       capture_output=True, text=True, timeout=30)
    return r.stdout


def test_axfr_streams_the_whole_zone_in_several_messages(primary):
    out = axfr(primary, "example.com", "+stats")
    records = [" ".join(line.split()) for line in out.splitlines() if line and not line.startswith(";")]
    soas = [r for r in records if " SOA " in r]
    assert len(soas) == 2 and records[0] == soas[0] and records[-1] == soas[1]
    assert len(records) == 8000 + 7 + 1  # the zone's records, and the SOA twice
    assert any(" TXT " in r and '"a \\"quoted\\" string" "and a second"' in r for r in records)
    assert any("TYPE65534 \\# 3 ABCDEF" in r for r in records)
    m = re.search(r"XFR size: (\d+) records \(messages (\d+)", out)
    assert m and int(m.group(1)) == 8008 and int(m.group(2)) > 1, out[-400:]
    assert "zone transfer" in primary.log("dnsd")


def test_axfr_of_a_config_zone_and_ixfr_answered_with_the_full_zone(primary):
    out = axfr(primary, "home.lan")
    records = [" ".join(line.split()) for line in out.splitlines() if line and not line.startswith(";")]
    assert len(records) == 4 and records[0].startswith("home.lan. 120 IN SOA ns1.home.lan.")
    assert "nas.home.lan. 120 IN A 192.168.1.10" in records
    serial = int(records[0].split()[6])
    # IXFR from an older serial: a full (AXFR-style) transfer, RFC 1995 §4.
    need_tool("kdig")
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(primary.port), "home.lan", f"IXFR={serial - 1}"],
                       capture_output=True, text=True, timeout=30)
    lines = [" ".join(x.split()) for x in r.stdout.splitlines() if x and not x.startswith(";")]
    assert len(lines) == 4 and "nas.home.lan. 120 IN A 192.168.1.10" in lines
    # IXFR from the current serial: just our SOA ("you are up to date").
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(primary.port), "home.lan", f"IXFR={serial}"],
                       capture_output=True, text=True, timeout=30)
    lines = [x for x in r.stdout.splitlines() if x and not x.startswith(";")]
    assert len(lines) == 1 and " SOA " in " ".join(lines[0].split())


def test_transfers_are_refused_outside_allow_transfer_and_notimp_over_udp(primary):
    assert "Transfer failed." in axfr(primary, "closed.test")
    assert "zone transfer refused" in primary.log("dnsd")
    # dig always uses TCP for AXFR: send one over UDP by hand.
    q = b"\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\xfc\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(q, ("127.0.0.1", primary.port))
        reply, _ = s.recvfrom(512)
    assert reply[:2] == b"\xab\xcd" and reply[3] & 0x0F == 4  # NOTIMP, as Knot and NSD
    # Still serving normally.
    assert section(dig(primary, "x.closed.test"), "ANSWER") == ["x.closed.test. 3600 IN A 192.0.2.8"]


def test_notify_to_us_is_acknowledged_for_our_zones(primary):
    out = dig(primary, "+opcode=notify", "+norec", "example.com", "SOA")
    assert "opcode: NOTIFY, status: NOERROR" in out and "flags: qr aa" in out
    out = dig(primary, "+opcode=notify", "+norec", "example.org", "SOA")
    assert "status: NOTAUTH" in out


def kdig(port, *args):
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+time=2", "+retry=0", "+short", *args],
                       capture_output=True, text=True, timeout=20)
    return r.stdout.strip()


def test_knot_secondary_follows_changes_after_notify(primary, tmp_path):
    need_tool("knotd")
    need_tool("kdig")
    kdir = tmp_path / "knot"
    kdir.mkdir()
    conf = kdir / "knot.conf"
    conf.write_text(knot_secondary_conf(kdir, primary.knot_port, primary.port, ["example.com", "home.lan"]))
    log = open(kdir / "knotd.log", "wb")
    knot = subprocess.Popen(["knotd", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        # Bootstrap: Knot transfers both zones from dnsbox on its own.
        wait_for(lambda: kdig(primary.knot_port, "www.example.com", "A") == "192.0.2.1", 15, 0.2,
                 "knot to serve example.com")
        wait_for(lambda: kdig(primary.knot_port, "nas.home.lan", "A") == "192.168.1.10", 15, 0.2,
                 "knot to serve home.lan")
        assert kdig(primary.knot_port, "h7999.example.com", "A") == "10.0.31.63"
        assert kdig(primary.knot_port, "odd.example.com", "TYPE65534") == "\\# 3 ABCDEF"

        # A zone file change with a new serial: reload → NOTIFY → Knot refreshes.
        (tmp_path / "example.com.zone").write_text(zone_text(2, "new IN A 192.0.2.42\n"))
        t0 = time.monotonic()
        assert primary.ctl("dnsd", "reload").returncode == 0
        wait_for(lambda: kdig(primary.knot_port, "new.example.com", "A") == "192.0.2.42", 10, 0.05,
                 "knot to follow the new serial of example.com")
        followed = time.monotonic() - t0
        assert followed < 5, f"knot followed after {followed:.2f}s; NOTIFY should make it immediate"
        # One record changed: Knot got it by IXFR from dnsbox's journal, in
        # one small message, not the 8,000-record zone again.
        knot_log = lambda: (kdir / "knotd.log").read_text(errors="replace")
        wait_for(lambda: re.search(r"\[example\.com\.\] IXFR, incoming, .*finished", knot_log()), 5, 0.05,
                 "Knot to log an IXFR of example.com")
        m = re.search(r"\[example\.com\.\] IXFR, incoming, .*finished, [\d.]+ seconds, (\d+) messages, (\d+) bytes",
                      knot_log())
        assert m and int(m.group(1)) == 1 and int(m.group(2)) < 1000, knot_log()[-2000:]
        assert "AXFR-style" not in knot_log().split("example.com.] IXFR")[-1]
        assert re.search(r"zone transfer zone=example\.com\. kind=IXFR from=1 serial=2", primary.log("dnsd"))

        # A config record change: the synthesized serial grows, Knot follows.
        cfg = primary.config_path.read_text().replace("192.168.1.10", "192.168.1.11")
        primary.config_path.write_text(cfg)
        assert primary.ctl("dnsd", "reload").returncode == 0
        wait_for(lambda: kdig(primary.knot_port, "nas.home.lan", "A") == "192.168.1.11", 10, 0.05,
                 "knot to follow home.lan")
        wait_for(lambda: "notify acknowledged" in primary.log("dnsd"), 5, 0.05, "an acknowledged NOTIFY")
        assert kdig(primary.knot_port, "home.lan", "SOA").split()[2] == \
            dig(primary, "home.lan", "SOA", "+short").split()[2]
        wait_for(lambda: "[home.lan.] IXFR, incoming" in knot_log(), 5, 0.05, "an IXFR of home.lan")

        # The journal is in the store: after kill -9 and a restart, IXFR
        # from serial 1 is still the difference, not the whole zone.
        primary.proc.kill()
        primary.proc.wait()
        primary.proc = primary.start("dnsd", "-c", str(primary.config_path), name="dnsd")
        primary.wait_ready("dnsd")
        r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(primary.port), "example.com", "IXFR=1"],
                           capture_output=True, text=True, timeout=30)
        lines = [" ".join(x.split()) for x in r.stdout.splitlines() if x and not x.startswith(";")]
        assert len(lines) == 5, r.stdout[-2000:]   # SOA 2, SOA 1, SOA 2, the new record, SOA 2
        assert "new.example.com. 300 IN A 192.0.2.42" in lines
        assert [x.split()[6] for x in lines if " SOA " in x] == ["2", "1", "2", "2"]
    finally:
        knot.terminate()
        try:
            knot.wait(timeout=10)
        except subprocess.TimeoutExpired:
            knot.kill()
            knot.wait()
        log.close()
        if knot.returncode not in (0, -15):
            print((kdir / "knotd.log").read_text(errors="replace")[-3000:])
