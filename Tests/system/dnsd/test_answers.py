"""dnsd answering real clients: dig and kdig over UDP and TCP, IPv4 and IPv6;
every record type, EDNS, truncation, malformed packets."""
import socket
import subprocess

import pytest

from dnsd.authoritative import dig, free_port
from helpers import need_tool, section


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


def test_a_datagram_larger_than_the_receive_slot_is_dropped_not_cut(dnsd):
    """A 5,000-byte datagram (a valid query followed by padding past the 4,096-byte
    slot) must not be answered as if it ended at the slot."""
    import socket as _socket
    q = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.sendto(q + b"\x00" * (5000 - len(q)), ("127.0.0.1", dnsd.port))
        try:
            reply, _ = s.recvfrom(4096)
        except _socket.timeout:
            reply = None
        # 4,000 bytes: inside the slot, so answered (FORMERR: trailing data).
        s.sendto(q + b"\x00" * (4000 - len(q)), ("127.0.0.1", dnsd.port))
        small, _ = s.recvfrom(4096)
    assert reply is None, f"an oversized datagram was answered: {reply[:12].hex()}"
    assert small[:2] == b"\x12\x34"


DS_PARENT = ("signed IN NS ns.signed\n"
             "signed IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
             "ns.signed IN A 192.0.2.2\nplain IN NS ns.signed\n")


def test_ds_at_a_child_apex_is_answered_from_the_parent_as_knot_does(dnsbox, knots, tmp_path):
    """RFC 4035 §3.1.4.1: with parent and child both served, DS for the
    child's apex comes from the parent (the DS itself, or NODATA with the
    parent's SOA); every other type stays the child's. Knot serving the same
    zones is the reference."""
    from dnsd.upstream import SOA_NS, Reply, dig as rdig
    zones = {"example.net": DS_PARENT, "signed.example.net": "", "plain.example.net": ""}
    knot = knots(zones)
    port = free_port()
    conf = f"config dnsd 'main'\n\tlist listen '127.0.0.1:{port}'\n"
    for name, text in zones.items():
        (tmp_path / f"{name}.db").write_text("$TTL 300\n" + SOA_NS + text)
        conf += f"config zone\n\toption name '{name}'\n\toption file '{tmp_path / (name + '.db')}'\n"
    dnsbox.write_config(conf)
    dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    for qname, qtype in (("signed.example.net", "DS"), ("plain.example.net", "DS"),
                         ("plain.example.net", "SOA"), ("signed.example.net", "DNSKEY")):
        ours = rdig(port, qname, qtype, "+norec")
        theirs = rdig(knot.port, qname, qtype, "+norec")
        assert (ours.status, ours.flags, ours.answer, ours.authority) == \
               (theirs.status, theirs.flags, theirs.answer, theirs.authority), (qname, qtype, ours, theirs)
    ds = rdig(port, "signed.example.net", "DS", "+norec")
    assert ds.answer and ds.answer[0].split()[3] == "DS"
    nodata = rdig(port, "plain.example.net", "DS", "+norec")
    assert nodata.authority[0].startswith("example.net. ")
