"""dnsbox as a secondary of Knot: AXFR at start, IXFR after a NOTIFY (Knot
serves the difference from its journal), and a restart that serves the
stored copy without a transfer."""
import time

from dnsd.authoritative import dig
from helpers import section, wait_for
from transfer.conftest import Secondary
from transfer.primaries import Knot, kdig, zone_text

ORIGIN = "example.net"


def test_axfr_then_ixfr_after_notify_then_restart_from_the_store(dnsbox, tmp_path, ports):
    kport, sport = ports
    knot = Knot(tmp_path, kport, sport, ORIGIN, zone_text(ORIGIN, 1))
    try:
        knot.wait_serving(1)
        sec = Secondary(dnsbox, ORIGIN, kport, sport).start()
        wait_for(lambda: section(dig(dnsbox, "www." + ORIGIN), "ANSWER") == [f"www.{ORIGIN}. 300 IN A 192.0.2.1"],
                 15, 0.1, "dnsbox to serve the transferred zone")
        assert "flags: qr aa" in dig(dnsbox, "h49." + ORIGIN)
        assert "kind=AXFR" in sec.log() and "records=57" in sec.log()
        # Everything Knot has, dnsbox has (kdig +short of both).
        for name, t in [(ORIGIN, "SOA"), (ORIGIN, "NS"), ("mail." + ORIGIN, "MX"), ("txt." + ORIGIN, "TXT"),
                        ("www." + ORIGIN, "AAAA"), ("h7." + ORIGIN, "A")]:
            assert kdig(sport, name, t) == kdig(kport, name, t) != ""

        # One record added, serial 2: Knot NOTIFYs, dnsbox asks by IXFR and
        # gets the difference only.
        t0 = time.monotonic()
        knot.set_zone(zone_text(ORIGIN, 2, "new IN A 192.0.2.42\n"))
        wait_for(lambda: kdig(sport, "new." + ORIGIN, "A") == "192.0.2.42", 10, 0.05, "dnsbox to follow serial 2")
        assert time.monotonic() - t0 < 5, "NOTIFY should make the refresh immediate"
        log = sec.log()
        assert "notify received" in log
        assert "kind=IXFR" in log and "serial=2" in log, log[-2000:]
        wait_for(lambda: "IXFR" in knot.log() and "serial 1 -> 2" in knot.log(), 5, 0.1, "Knot to log the IXFR")
        assert kdig(sport, "www." + ORIGIN, "A") == "192.0.2.1"

        # A deletion travels too.
        knot.set_zone(zone_text(ORIGIN, 3, "", count=40))
        wait_for(lambda: kdig(sport, ORIGIN, "SOA").split()[2:3] == ["3"], 10, 0.05, "dnsbox to follow serial 3")
        assert "NXDOMAIN" in dig(dnsbox, "h45." + ORIGIN) and "NXDOMAIN" in dig(dnsbox, "new." + ORIGIN)
        assert kdig(sport, "h39." + ORIGIN, "A") == "10.0.0.39"
    finally:
        knot.stop()

    # Restart with the primary gone: the stored copy is served at once.
    dnsbox.proc.kill()
    dnsbox.proc.wait()
    transfers = sec.log().count("zone transferred in")
    dnsbox.proc = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    assert kdig(sport, ORIGIN, "SOA").split()[2] == "3"
    assert kdig(sport, "h39." + ORIGIN, "A") == "10.0.0.39"
    assert "restored from the store" in sec.log()
    assert sec.log().count("zone transferred in") == transfers
