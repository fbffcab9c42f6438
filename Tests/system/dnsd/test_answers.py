"""dnsd answering real clients: dig and kdig over UDP and TCP, IPv4 and IPv6."""
import socket
import subprocess
import time

import pytest

from dnsd.authoritative import dig, free_port
from helpers import need_tool, section, wait_for

ZONE = """$TTL 300
@       IN SOA ns1 hostmaster 2024010101 3600 600 1209600 60
@       IN NS  ns1
ns1     IN A   192.0.2.53
www     IN A   192.0.2.1
www     IN AAAA 2001:db8::1
alias   IN CNAME www
*.wild  IN A   192.0.2.9
sub     IN NS  ns.sub
ns.sub  IN A   192.0.2.77
""" + "".join(f'big IN TXT "{chr(97 + i) * 120}"\n' for i in range(8))


@pytest.fixture
def dnsd(dnsbox, tmp_path):
    need_tool("dig")
    (tmp_path / "example.com.zone").write_text(ZONE)
    port = free_port()
    dnsbox.write_config(
        "config dnsd 'main'\n"
        f"\tlist listen '127.0.0.1:{port}'\n"
        f"\tlist listen '[::1]:{port}'\n"
        "\toption nsid 'test-ns'\n"
        "config zone\n\toption name 'example.com'\n"
        f"\toption file '{tmp_path / 'example.com.zone'}'\n"
        "config zone\n\toption name 'home.lan'\n\toption ttl '120'\n"
        "config record\n\toption zone 'home.lan'\n\toption name 'nas'\n\toption type 'A'\n\toption value '192.168.1.10'\n"
    )
    p = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port
    dnsbox.proc = p
    return dnsbox


def test_authoritative_answer_with_flags_and_ttl(dnsd):
    out = dig(dnsd, "www.example.com", "A", "+norec")
    assert "status: NOERROR" in out and "flags: qr aa;" in out
    assert section(out, "ANSWER") == ["www.example.com. 300 IN A 192.0.2.1"]
    out = dig(dnsd, "www.example.com", "AAAA", server="::1")
    assert section(out, "ANSWER") == ["www.example.com. 300 IN AAAA 2001:db8::1"]


def test_nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl(dnsd):
    out = dig(dnsd, "nope.example.com", "A")
    assert "status: NXDOMAIN" in out and " aa" in out.split("flags:")[1].split(";")[0]
    assert section(out, "AUTHORITY") == [
        "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 3600 600 1209600 60"]
    out = dig(dnsd, "www.example.com", "MX")
    assert "status: NOERROR" in out and section(out, "ANSWER") == []
    assert section(out, "AUTHORITY")[0].startswith("example.com. 60 IN SOA")


def test_cname_chain_wildcard_and_referral(dnsd):
    out = dig(dnsd, "alias.example.com", "A")
    assert section(out, "ANSWER") == ["alias.example.com. 300 IN CNAME www.example.com.",
                                      "www.example.com. 300 IN A 192.0.2.1"]
    out = dig(dnsd, "Anything.WILD.example.com", "A")
    assert section(out, "ANSWER") == ["Anything.WILD.example.com. 300 IN A 192.0.2.9"]
    out = dig(dnsd, "host.sub.example.com", "A", "+norec")
    assert "status: NOERROR" in out and " aa" not in out.split("flags:")[1].split(";")[0]
    assert section(out, "AUTHORITY") == ["sub.example.com. 300 IN NS ns.sub.example.com."]
    assert section(out, "ADDITIONAL") == ["ns.sub.example.com. 300 IN A 192.0.2.77"]


def test_truncation_then_tcp(dnsd):
    out = dig(dnsd, "big.example.com", "TXT", "+noedns", "+ignore")
    assert "flags: qr aa tc" in out
    out = dig(dnsd, "big.example.com", "TXT", "+noedns")  # dig retries over TCP
    assert len(section(out, "ANSWER")) == 8
    out = dig(dnsd, "big.example.com", "TXT", "+tcp")
    assert len(section(out, "ANSWER")) == 8


def test_records_from_config_get_a_synthesized_soa(dnsd):
    out = dig(dnsd, "nas.home.lan", "A")
    assert section(out, "ANSWER") == ["nas.home.lan. 120 IN A 192.168.1.10"]
    out = dig(dnsd, "home.lan", "SOA")
    assert section(out, "ANSWER")[0].startswith("home.lan. 120 IN SOA ns1.home.lan. hostmaster.home.lan. ")
    assert section(dig(dnsd, "home.lan", "NS"), "ANSWER") == ["home.lan. 120 IN NS ns1.home.lan."]


def test_refused_outside_zones_nsid_and_chaos(dnsd):
    assert "status: REFUSED" in dig(dnsd, "example.org", "A")
    out = dig(dnsd, "+nsid", "www.example.com")
    assert 'NSID: 74 65 73 74 2d 6e 73 ("test-ns")' in out
    assert dig(dnsd, "version.bind", "TXT", "CH", "+short").strip() == '"dnsbox"'
    assert dig(dnsd, "hostname.bind", "TXT", "CH", "+short").strip() == '"test-ns"'


def test_kdig_agrees(dnsd):
    need_tool("kdig")
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(dnsd.port), "+tcp", "alias.example.com", "A"],
                       capture_output=True, text=True, timeout=20)
    assert "status: NOERROR" in r.stdout and "192.0.2.1" in r.stdout


def test_malformed_packets_get_formerr_or_nothing_and_serving_goes_on(dnsd):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(b"\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x03abc", ("127.0.0.1", dnsd.port))
    reply, _ = s.recvfrom(512)
    assert reply[:2] == b"\x12\x34" and reply[3] & 0x0F == 1  # FORMERR, ID echoed
    for junk in (b"", b"\x00", b"\xff" * 11, bytes(range(256)) * 4):
        s.sendto(junk, ("127.0.0.1", dnsd.port))
    s.close()
    assert section(dig(dnsd, "www.example.com"), "ANSWER") == ["www.example.com. 300 IN A 192.0.2.1"]
    assert dnsd.proc.poll() is None


def test_reload_with_a_broken_zone_file_keeps_the_previous_version(dnsd, tmp_path):
    zone = tmp_path / "example.com.zone"
    zone.write_text(ZONE.replace("192.0.2.1\n", "192.0.2.2\n") + "bad IN A 300.1.1.1\n")
    r = dnsd.ctl("dnsd", "reload")
    assert r.returncode == 0
    wait_for(lambda: "keeping the previous version of example.com." in dnsd.log("dnsd"), what="error logged")
    assert f"{zone}:" in dnsd.log("dnsd")
    assert section(dig(dnsd, "www.example.com"), "ANSWER") == ["www.example.com. 300 IN A 192.0.2.1"]
    zone.write_text(ZONE.replace("192.0.2.1\n", "192.0.2.2\n"))
    assert dnsd.ctl("dnsd", "reload").returncode == 0
    assert section(dig(dnsd, "www.example.com"), "ANSWER") == ["www.example.com. 300 IN A 192.0.2.2"]


def raw_query(name: str, qtype: int = 1, qid: int = 0x4242) -> bytes:
    q = qid.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01"


def test_workers_share_the_load_and_reloads_swap_atomically_under_load(dnsbox, tmp_path):
    """Two UDP workers; 20 reloads flip a record while clients hammer it: every
    query is answered, and each answer is the old or the new record, never
    anything else (no half-built snapshot, no lost query)."""
    import threading
    port = free_port()
    body = ("config dnsd 'main'\n"
            f"\tlist listen '127.0.0.1:{port}'\n"
            "\toption workers '2'\n"
            "config zone\n\toption name 'flip.test'\n"
            "config record\n\toption zone 'flip.test'\n\toption name 'x'\n\toption type 'A'\n\toption value 'VALUE'\n")
    dnsbox.write_config(body.replace("VALUE", "192.0.2.1"))
    dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    assert dnsbox.status("dnsd")["dnsd"]["workers"] == "2"
    stop = threading.Event()
    seen, bad, lost = set(), [], [0]

    def client(k: int):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # one source port per client: spread over workers
        s.settimeout(1)
        n = 0
        while not stop.is_set():
            n += 1
            s.sendto(raw_query("x.flip.test", qid=n & 0xFFFF), ("127.0.0.1", port))
            try:
                r, _ = s.recvfrom(512)
            except socket.timeout:
                lost[0] += 1
                continue
            if r[:2] != (n & 0xFFFF).to_bytes(2, "big") or r[3] & 0x0F != 0 or r[6:8] != b"\x00\x01":
                bad.append(r)
            else:
                seen.add(r[-4:])
        s.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(20):
            dnsbox.write_config(body.replace("VALUE", f"192.0.2.{1 + (i + 1) % 2}"))
            assert dnsbox.ctl("dnsd", "reload").returncode == 0
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not bad and lost[0] == 0
    assert seen == {bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])}
    fields = dnsbox.status("dnsd")["dnsd"]
    assert int(fields["udp_queries"]) > 200


def test_zones_from_the_store_are_served_and_followed(dnsbox):
    """A zone written into the store (as the API does) is served; a change is
    picked up by the generation poll, and at once after `ctl dnsd poke`."""
    import sqlite3
    port = free_port()
    dnsbox.write_config("config dnsd 'main'\n"
                        f"\tlist listen '127.0.0.1:{port}'\n"
                        "config zone\n\toption name 'both.test'\n"
                        "config record\n\toption zone 'both.test'\n\toption name 'cfg'\n\toption type 'A'\n"
                        "\toption value '192.0.2.10'\n")
    dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port

    def write(sql_list):
        db = sqlite3.connect(dnsbox.database, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        for sql, args in sql_list:
            db.execute(sql, args)
        db.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'")
        db.execute("COMMIT")
        db.close()

    now = int(time.time())
    write([("INSERT INTO zones(name, ttl, updated) VALUES('store.test', 60, ?)", (now,)),
           ("INSERT INTO records(zone, name, type, ttl, value, updated) VALUES('store.test', 'svc', 'A', NULL, '10.0.0.12', ?)", (now,)),
           ("INSERT INTO zones(name, ttl, updated) VALUES('both.test', NULL, ?)", (now,)),
           ("INSERT INTO records(zone, name, type, ttl, value, updated) VALUES('both.test', 'api', 'AAAA', 30, '2001:db8::12', ?)", (now,))])
    # The once-a-second poll notices the new generation.
    wait_for(lambda: section(dig(dnsbox, "svc.store.test"), "ANSWER") == ["svc.store.test. 60 IN A 10.0.0.12"], 3, 0.05,
             "the stored zone to be served")
    assert section(dig(dnsbox, "api.both.test", "AAAA"), "ANSWER") == ["api.both.test. 30 IN AAAA 2001:db8::12"]
    assert section(dig(dnsbox, "cfg.both.test"), "ANSWER") == ["cfg.both.test. 3600 IN A 192.0.2.10"]
    serial = int(dig(dnsbox, "store.test", "SOA", "+short").split()[2])
    # A poke makes it immediate.
    write([("UPDATE records SET value = '10.0.0.13' WHERE name = 'svc'", ())])
    t0 = time.monotonic()
    r = dnsbox.ctl("dnsd", "poke")
    assert r.returncode == 0 and r.stdout.startswith("ok generation=")
    assert section(dig(dnsbox, "svc.store.test"), "ANSWER") == ["svc.store.test. 60 IN A 10.0.0.13"]
    assert time.monotonic() - t0 < 0.5
    assert int(dig(dnsbox, "store.test", "SOA", "+short").split()[2]) > serial
    # A bad stored record keeps the zone's previous version serving.
    write([("INSERT INTO records(zone, name, type, ttl, value, updated) VALUES('store.test', 'bad', 'A', NULL, 'not-an-ip', ?)", (now,))])
    assert dnsbox.ctl("dnsd", "poke").returncode == 0
    assert "keeping the previous version of store.test." in dnsbox.log("dnsd")
    assert section(dig(dnsbox, "svc.store.test"), "ANSWER") == ["svc.store.test. 60 IN A 10.0.0.13"]


TYPES_ZONE = """$TTL 300
@       IN SOA ns1 hostmaster 7 3600 600 1209600 60
@       IN NS  ns1
@       IN MX  10 mail
@       IN CAA 0 issue "letsencrypt.org"
ns1     IN A   192.0.2.53
mail    IN A   192.0.2.25
_sip._udp IN SRV 10 60 5060 sip
sip     IN A   192.0.2.60
txt     IN TXT "semi;colon" "quote\\"d" "tab\\009x"
10      IN PTR host.types.test.
odd     IN TYPE65534 \\# 3 abcdef
"""


@pytest.mark.parametrize("qname,qtype,want", [
    ("types.test", "MX", ["types.test. 300 IN MX 10 mail.types.test."]),
    ("types.test", "CAA", ['types.test. 300 IN CAA 0 issue "letsencrypt.org"']),
    ("_sip._udp.types.test", "SRV", ["_sip._udp.types.test. 300 IN SRV 10 60 5060 sip.types.test."]),
    ("txt.types.test", "TXT", ['txt.types.test. 300 IN TXT "semi;colon" "quote\\"d" "tab\\009x"']),
    ("10.types.test", "PTR", ["10.types.test. 300 IN PTR host.types.test."]),
    ("odd.types.test", "TYPE65534", ["odd.types.test. 300 IN TYPE65534 \\# 3 ABCDEF"]),
    ("types.test", "NS", ["types.test. 300 IN NS ns1.types.test."]),
])
def test_every_record_type_through_dig(dnsd_types, qname, qtype, want):
    out = dig(dnsd_types, qname, qtype, "+norec")
    assert "status: NOERROR" in out and "flags: qr aa;" in out
    assert section(out, "ANSWER") == want


@pytest.fixture
def dnsd_types(dnsbox, tmp_path):
    need_tool("dig")
    (tmp_path / "types.zone").write_text(TYPES_ZONE)
    port = free_port()
    dnsbox.write_config("config dnsd 'main'\n"
                        f"\tlist listen '127.0.0.1:{port}'\n"
                        "\toption workers '1'\n"
                        "config zone\n\toption name 'types.test'\n"
                        f"\toption file '{tmp_path / 'types.zone'}'\n")
    dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port
    return dnsbox


def test_mx_additional_edns_do_badvers_and_any(dnsd_types):
    out = dig(dnsd_types, "types.test", "MX", "+dnssec", "+bufsize=4096")
    assert section(out, "ADDITIONAL") == ["mail.types.test. 300 IN A 192.0.2.25"]
    opt = out.split("OPT PSEUDOSECTION:")[1].split("\n")[1]
    assert "flags: do;" in opt and "udp: 1232" in opt        # DO echoed, our payload size
    out = dig(dnsd_types, "types.test", "SOA", "+edns=1", "+noednsnegotiation")
    assert "status: BADVERS" in out
    out = dig(dnsd_types, "types.test", "ANY")
    answers = section(out, "ANSWER")
    assert answers and len({a.split()[3] for a in answers}) == 1  # RFC 8482: one RRset
    out = dig(dnsd_types, "nothere.types.test", "A", "+noedns")
    assert "status: NXDOMAIN" in out and "OPT PSEUDOSECTION" not in out
