"""A secondary whose primary disappears serves until the SOA expire time
runs out, then answers SERVFAIL (RFC 1034 §4.3.5); the primary's return
brings the zone back."""
import time

from dnsd.authoritative import dig
from helpers import wait_for
from transfer.conftest import Secondary
from transfer.primaries import Knot, kdig, zone_text

ORIGIN = "expire.test"


def test_expired_zone_answers_servfail_until_the_primary_returns(dnsbox, tmp_path, ports):
    kport, sport = ports
    text = zone_text(ORIGIN, 5, refresh=2, retry=1, expire=6)
    knot = Knot(tmp_path, kport, sport, ORIGIN, text)
    try:
        knot.wait_serving(5)
        sec = Secondary(dnsbox, ORIGIN, kport, sport).start()
        wait_for(lambda: kdig(sport, "www." + ORIGIN, "A") == "192.0.2.1", 15, 0.1, "the transfer")
        t0 = time.monotonic()
    finally:
        knot.stop()
    # Refresh (2 s) fails, retries, and the data is served until expire (6 s).
    time.sleep(3)
    assert "status: NOERROR" in dig(dnsbox, "www." + ORIGIN)
    wait_for(lambda: "status: SERVFAIL" in dig(dnsbox, "www." + ORIGIN), 10, 0.2, "the zone to expire")
    assert time.monotonic() - t0 >= 5
    assert "secondary zone expired" in sec.log()
    assert "status: SERVFAIL" in dig(dnsbox, ORIGIN, "SOA")
    # No AXFR of an expired zone either.
    out = dig(dnsbox, ORIGIN, "AXFR")
    assert "Transfer failed" in out or "SERVFAIL" in out
    # The primary comes back: the next retry brings the zone back.
    knot2 = Knot(tmp_path / "again", kport, sport, ORIGIN, zone_text(ORIGIN, 6, refresh=2, retry=1, expire=6)) \
        if (tmp_path / "again").mkdir() is None else None
    try:
        wait_for(lambda: kdig(sport, ORIGIN, "SOA").split()[2:3] == ["6"], 20, 0.2, "the zone to come back")
        assert "status: NOERROR" in dig(dnsbox, "www." + ORIGIN)
    finally:
        knot2.stop()
