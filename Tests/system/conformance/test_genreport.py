"""dnsd judged by ISC's DNS compliance tester genreport (the tool behind
ednscomp.isc.org), run against an authoritative dnsd on loopback serving
example.com (zone.py: SOA, NS ns1 with A and AAAA, A, AAAA, MX, TXT and an
unsigned DNSKEY RRset bigger than 512 bytes at the apex). Every test field of
the report line must read `ok` (tags after "ok," are information).

What genreport sends (genreport.c, `opts[]`), every query for the zone apex
over UDP with RD clear unless said otherwise, and a reply with TC=1 repeated
over TCP (except edns@512). Without EDNS, unless said otherwise:

    dns          SOA
    aa ad cd     SOA with that header flag set (AA, AD, CD)
    ra rd tc     SOA with RA, RD or TC set (RD must be echoed, nothing else)
    zflag        SOA with the Z bit set (must not be echoed)
    opcode       opcode 15, header only (QDCOUNT 0)
    opcodeflg    opcode 15, header only, with TC RD RA CD AD AA Z all set
    type666      TYPE666 (an unknown type)
    tcp          SOA over TCP
    edns         SOA, EDNS0 payload 4096
    edns1        SOA, EDNS version 1
    edns@512     DNSKEY, EDNS0 payload 512, DO; TC is not followed: the UDP
                 reply itself must fit in 512 bytes
    ednsopt      SOA, EDNS0 with option 100 (unassigned, empty)
    edns1opt     SOA, EDNS1 with option 100
    do           SOA, EDNS0 DO
    docd         SOA, EDNS0 DO, header CD
    edns1do      SOA, EDNS1 DO
    ednsflags    SOA, EDNS0 with the undefined EDNS flag 0x0080
    optlist      SOA, EDNS0 with NSID, ECS 0.0.0.0/0, EXPIRE and a client COOKIE
    ednsnsid ednscookie ednsexpire ednssubnet
                 SOA, EDNS0 with that one option
    edns1nsid edns1cookie edns1expire edns1subnet
                 the same with EDNS version 1
    signed       not a query: `do`'s result again (",yes" when it had RRSIGs)
    ednstcp      DNSKEY, EDNS0 payload 512, DO, over TCP
    bind11       what BIND 9.11 sends: SOA, EDNS0 DO and a client COOKIE
    dig11        what dig 9.11 sends: SOA, RD, AD, EDNS0 with a client COOKIE
    (type test) NAME
                 QTYPE NAME (A, NS, MD, ... DNSKEY, NSEC3 ... TYPE1000) at the
                 apex, without EDNS; a type the zone lacks is NODATA, which is ok

What it expects of every reply (genreport.c, `process()`): the opcode echoed;
NOERROR for QUERY (BADCOOKIE also for the cookie tests), NOTIMP for opcode 15
with all four sections empty, BADVERS for EDNS version 1; an OPT exactly when
the query had one, of version 0, with no flag but DO and without option 100;
the SOA in the answer of a NOERROR SOA query and not in a BADVERS one; AA set
in NOERROR QUERY answers; RD only when the query had it; AD only for AD or DO
queries; CD only for CD queries; Z never; and for opcode 15 none of AA RA RD AD
CD. With DO and RRSIGs in the answer, DO echoed (and CD for docd). A server
cookie must echo the client cookie.
"""
from conformance import genreport as gr
from conformance.zone import NS_NAME, ZONE_NAME

ADDRESS = "127.0.0.1"

# What each test sends, for the failure messages (see the module docstring).
SENT = {
    "dns": "SOA, no EDNS", "aa": "SOA, AA set, no EDNS", "ad": "SOA, AD set, no EDNS",
    "cd": "SOA, CD set, no EDNS", "ra": "SOA, RA set, no EDNS", "rd": "SOA, RD set, no EDNS",
    "tc": "SOA, TC set, no EDNS", "zflag": "SOA, Z set, no EDNS",
    "opcode": "opcode 15, QDCOUNT 0, no EDNS, UDP; expects NOTIMP, empty sections, no AA/RA/RD/AD/CD/Z",
    "opcodeflg": "opcode 15, QDCOUNT 0, TC RD RA CD AD AA Z set, no EDNS, UDP; expects NOTIMP, "
                 "empty sections, no AA/RA/RD/AD/CD/Z",
    "type666": "TYPE666, no EDNS", "tcp": "SOA over TCP, no EDNS",
    "edns": "SOA, EDNS0 4096", "edns1": "SOA, EDNS1 (expects BADVERS)",
    "edns@512": "DNSKEY, EDNS0 512 DO, TC not followed (reply must fit 512 bytes)",
    "ednsopt": "SOA, EDNS0 + option 100", "edns1opt": "SOA, EDNS1 + option 100 (expects BADVERS)",
    "do": "SOA, EDNS0 DO", "docd": "SOA, EDNS0 DO, CD set", "edns1do": "SOA, EDNS1 DO (expects BADVERS)",
    "ednsflags": "SOA, EDNS0 flag 0x0080", "optlist": "SOA, EDNS0 NSID+ECS+EXPIRE+COOKIE",
    "ednsnsid": "SOA, EDNS0 NSID", "ednscookie": "SOA, EDNS0 COOKIE", "ednsexpire": "SOA, EDNS0 EXPIRE",
    "ednssubnet": "SOA, EDNS0 ECS 0.0.0.0/0", "edns1nsid": "SOA, EDNS1 NSID (expects BADVERS)",
    "edns1cookie": "SOA, EDNS1 COOKIE (expects BADVERS)", "edns1expire": "SOA, EDNS1 EXPIRE (expects BADVERS)",
    "edns1subnet": "SOA, EDNS1 ECS (expects BADVERS)", "signed": "the `do` result again",
    "ednstcp": "DNSKEY, EDNS0 512 DO, over TCP", "bind11": "SOA, EDNS0 DO + COOKIE",
    "dig11": "SOA, RD AD set, EDNS0 + COOKIE",
}


def check_all_ok(genreport, d, *flags: str, groups: tuple[str, ...]):
    cmd, out = gr.run(genreport, d.port, ZONE_NAME, NS_NAME, ADDRESS, *flags)
    line, fields = gr.report(out, ZONE_NAME, NS_NAME, ADDRESS)
    expected = gr.tests_of(genreport, *groups)
    bad = [f"  {name}={value}  [sent: {SENT.get(name, f'QTYPE {name} at the apex, no EDNS')}]"
           for name, value in fields.items() if not gr.passed(value)]
    bad += [f"  {name} missing from the report" for name in expected if name not in fields]
    assert not bad, f"{cmd}\n{line}\nnot ok:\n" + "\n".join(bad)


def test_full_and_common_tests_all_ok(genreport, authoritative):
    check_all_ok(genreport, authoritative, "-f", "-c", groups=("EDNS", "FULL", "COMM"))


def test_type_tests_all_ok(genreport, authoritative):
    check_all_ok(genreport, authoritative, "-t", groups=("TYPE",))
