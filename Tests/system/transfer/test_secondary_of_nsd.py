"""dnsbox as a secondary of NSD: AXFR at start; after NSD's NOTIFY, the
IXFR that NSD 4.6 answers with the whole zone (AXFR-style, RFC 1995 §4)."""
import time

from dnsd.authoritative import dig
from helpers import section, wait_for
from transfer.conftest import Secondary
from transfer.primaries import NSD, kdig, zone_text

ORIGIN = "example.org"


def test_axfr_then_a_full_ixfr_after_notify(dnsbox, tmp_path, ports):
    nport, sport = ports
    nsd = NSD(tmp_path, nport, sport, ORIGIN, zone_text(ORIGIN, 10))
    try:
        nsd.wait_serving(10)
        sec = Secondary(dnsbox, ORIGIN, nport, sport).start()
        wait_for(lambda: section(dig(dnsbox, "www." + ORIGIN), "ANSWER") == [f"www.{ORIGIN}. 300 IN A 192.0.2.1"],
                 15, 0.1, "dnsbox to serve the zone from NSD")
        assert "kind=AXFR" in sec.log()
        t0 = time.monotonic()
        nsd.set_zone(zone_text(ORIGIN, 11, "new IN TXT \"from nsd\"\n"))
        wait_for(lambda: kdig(sport, "new." + ORIGIN, "TXT") == '"from nsd"', 15, 0.05, "dnsbox to follow serial 11")
        assert time.monotonic() - t0 < 8
        assert "notify received" in sec.log()
        assert kdig(sport, ORIGIN, "SOA").split()[2] == "11"
        assert kdig(sport, "h3." + ORIGIN, "A") == "10.0.0.3"
    finally:
        nsd.stop()
