"""A transfer that is cut short, is not DNS, holds a record outside the zone
or breaks a zone rule keeps the version served, says why in the log, and
the next good transfer is taken."""
import time

import dns.rcode
import pytest

from dnsd.authoritative import dig
from helpers import section, wait_for
from transfer.conftest import Secondary
from transfer.fakeprimary import FakePrimary

ORIGIN = "bad.test"


@pytest.mark.parametrize("mode,reason", [
    ("truncated", "closed the connection before the end of the transfer"),
    ("garbage", "a message that does not answer our query"),
    ("outside", "a record outside the zone"),
    ("cname-and-a", "does not check"),
])
def test_a_broken_transfer_keeps_the_old_zone(dnsbox, ports, mode, reason):
    pport, sport = ports
    fake = FakePrimary(ORIGIN, pport)
    try:
        sec = Secondary(dnsbox, ORIGIN, pport, sport).start()
        wait_for(lambda: section(dig(dnsbox, "www." + ORIGIN), "ANSWER") == [f"www.{ORIGIN}. 300 IN A 192.0.2.1"],
                 10, 0.05, "the first (good) transfer")
        fake.mode = mode
        assert fake.notify(sport) == dns.rcode.NOERROR
        wait_for(lambda: reason in sec.log(), 10, 0.05, f"the transfer to fail with '{reason}'")
        assert "notify received" in sec.log()
        assert "keeping the version served" in sec.log()
        # Still the old data, still authoritative.
        out = dig(dnsbox, "www." + ORIGIN)
        assert "status: NOERROR" in out and "flags: qr aa" in out
        assert section(out, "ANSWER") == [f"www.{ORIGIN}. 300 IN A 192.0.2.1"]
        assert section(dig(dnsbox, "h19." + ORIGIN), "ANSWER") == [f"h19.{ORIGIN}. 300 IN A 10.1.0.19"]
        # dnsbox asked by IXFR first, then fell back to AXFR for a broken IXFR.
        assert fake.requests[0] == "AXFR" and "IXFR" in fake.requests[1:]
    finally:
        fake.close()


def test_notify_from_a_stranger_is_refused(dnsbox, ports):
    pport, sport = ports
    fake = FakePrimary(ORIGIN, pport)
    try:
        Secondary(dnsbox, ORIGIN, pport, sport, extra="\tlist allow_notify '192.0.2.0/24'\n").start()
        wait_for(lambda: "192.0.2.1" in dig(dnsbox, "www." + ORIGIN, "+short"), 10, 0.05, "the first transfer")
        n = len(fake.requests)
        assert fake.notify(sport) == dns.rcode.REFUSED
        time.sleep(0.5)
        assert len(fake.requests) == n, "a refused NOTIFY must not start a transfer"
    finally:
        fake.close()


def test_a_silent_primary_times_out_and_the_zone_stays(dnsbox, ports):
    pport, sport = ports
    fake = FakePrimary(ORIGIN, pport)
    try:
        sec = Secondary(dnsbox, ORIGIN, pport, sport).start()
        wait_for(lambda: "192.0.2.1" in dig(dnsbox, "www." + ORIGIN, "+short"), 10, 0.05, "the first transfer")
        fake.mode = "silent"
        fake.notify(sport)
        # While the transfer hangs, answers go on.
        for _ in range(5):
            assert "192.0.2.1" in dig(dnsbox, "www." + ORIGIN, "+short")
            time.sleep(0.2)
        try:
            wait_for(lambda: "timed out" in sec.log(), 15, 0.1, "the idle timeout")
        except AssertionError as e:
            raise AssertionError(f"{e}; the fake primary saw {fake.requests}, errors {fake.errors}") from None
    finally:
        fake.close()
