"""TSIG (RFC 8945, HMAC-SHA256) on transfers and NOTIFY, both directions,
against peers no one here wrote: kdig signing its own requests and checking
dnsbox's signatures, Knot as a secondary of dnsbox and as its primary. The
right key transfers (IXFR too); a wrong secret, an unknown key and no key
at all are refused on both sides, and a refused transfer keeps the version
served."""
import base64
import os
import re
import subprocess

from dnsd.authoritative import free_port
from helpers import need_tool, wait_for
from transfer.conftest import Secondary
from transfer.primaries import Knot, kdig, knot_secondary_conf, zone_text

ORIGIN = "example.net"
SECRET = base64.b64encode(os.urandom(32)).decode()
WRONG = base64.b64encode(os.urandom(32)).decode()


def key_section(secret: str = SECRET, name: str = "xfr") -> str:
    return f"config tsig_key '{name}'\n\toption secret '{secret}'\n"


def kdig_tsig(port: int, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    cmd = ["kdig", "@127.0.0.1", "-p", str(port), "+time=3", "+retry=0"]
    if key:
        cmd.append(f"-y{key}")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30)


def records(out: str) -> list[str]:
    out = [" ".join(x.split()) for x in out.splitlines() if x and not x.startswith(";")]
    return [x for x in out if " TSIG " not in x]


def clean(r: subprocess.CompletedProcess) -> bool:
    """kdig verified every TSIG: no error or warning printed."""
    text = r.stdout + r.stderr
    return r.returncode == 0 and ";; ERROR" not in text and "WARNING" not in text


def test_signed_transfers_and_queries_out_checked_by_kdig(dnsbox, tmp_path):
    need_tool("kdig")
    port = free_port()
    zone = tmp_path / "example.net.zone"
    zone.write_text(zone_text(ORIGIN, 1))
    dnsbox.write_config(
        f"config dnsd 'main'\n\tlist listen '127.0.0.1:{port}'\n\toption workers '1'\n"
        f"config zone\n\toption name '{ORIGIN}'\n\toption file '{zone}'\n"
        "\tlist allow_transfer '127.0.0.0/8'\n\toption tsig_key 'xfr'\n" + key_section())
    dnsbox.proc = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    good = f"hmac-sha256:xfr:{SECRET}"

    # The right key: kdig checks every message's TSIG (it fails loudly otherwise).
    r = kdig_tsig(port, ORIGIN, "AXFR", key=good)
    assert clean(r), r.stdout[-1500:] + r.stderr
    assert len(records(r.stdout)) == 57 + 1
    # A signed query over UDP gets a signed answer.
    r = kdig_tsig(port, "www." + ORIGIN, "A", key=good)
    assert clean(r) and "status: NOERROR" in r.stdout and "192.0.2.1" in r.stdout, r.stdout + r.stderr
    assert re.search(r"TSIG PSEUDOSECTION:\s*\nxfr\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\.", r.stdout), r.stdout

    # No key: REFUSED; a wrong secret: NOTAUTH/BADSIG; an unknown key: NOTAUTH/BADKEY.
    r = kdig_tsig(port, ORIGIN, "AXFR")
    assert "REFUSED" in r.stdout + r.stderr and len(records(r.stdout)) == 0, r.stdout + r.stderr
    r = kdig_tsig(port, ORIGIN, "AXFR", key=f"hmac-sha256:xfr:{WRONG}")
    assert "error 'BADSIG'" in r.stderr and not records(r.stdout), r.stdout + r.stderr
    r = kdig_tsig(port, ORIGIN, "AXFR", key=f"hmac-sha256:other:{SECRET}")
    assert "error 'BADKEY'" in r.stderr and not records(r.stdout), r.stdout + r.stderr
    log = dnsbox.log("dnsd")
    assert "reason=\"not signed with the zone's tsig_key\"" in log
    assert log.count("zone transfer refused") >= 3

    # IXFR from the journal, signed.
    zone.write_text(zone_text(ORIGIN, 2, "new IN A 192.0.2.42\n"))
    assert dnsbox.ctl("dnsd", "reload").returncode == 0
    wait_for(lambda: kdig(port, ORIGIN, "SOA").split()[2:3] == ["2"], 5, 0.05, "serial 2")
    r = kdig_tsig(port, ORIGIN, "IXFR=1", key=good)
    assert clean(r), r.stdout + r.stderr
    assert len(records(r.stdout)) == 5 and "new.example.net. 300 IN A 192.0.2.42" in records(r.stdout)


def start_knot_secondary(tmp_path, name, port, primary, secret):
    d = tmp_path / name
    d.mkdir()
    conf = d / "knot.conf"
    conf.write_text(knot_secondary_conf(d, port, primary, [ORIGIN], ("xfr", secret)))
    log = d / "knotd.log"
    return subprocess.Popen(["knotd", "-c", str(conf)], stdout=open(log, "wb"), stderr=subprocess.STDOUT), log


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def test_knot_secondary_of_dnsbox_needs_the_key(dnsbox, tmp_path):
    need_tool("knotd")
    need_tool("kdig")
    port, good_port, bad_port = free_port(), free_port(), free_port()
    zone = tmp_path / "example.net.zone"
    zone.write_text(zone_text(ORIGIN, 1))
    dnsbox.write_config(
        f"config dnsd 'main'\n\tlist listen '127.0.0.1:{port}'\n\toption workers '1'\n"
        f"config zone\n\toption name '{ORIGIN}'\n\toption file '{zone}'\n"
        f"\tlist allow_transfer '127.0.0.0/8'\n\tlist notify '127.0.0.1:{good_port}'\n\toption tsig_key 'xfr'\n"
        + key_section())
    dnsbox.proc = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    good, good_log = start_knot_secondary(tmp_path, "knot-good", good_port, port, SECRET)
    bad, bad_log = start_knot_secondary(tmp_path, "knot-bad", bad_port, port, WRONG)
    try:
        wait_for(lambda: kdig(good_port, "www." + ORIGIN, "A") == "192.0.2.1", 15, 0.1, "Knot (right key) to serve the zone")
        # dnsbox's signed NOTIFY is accepted by Knot's key-only ACL; Knot follows by signed IXFR.
        zone.write_text(zone_text(ORIGIN, 2, "new IN A 192.0.2.42\n"))
        assert dnsbox.ctl("dnsd", "reload").returncode == 0
        wait_for(lambda: kdig(good_port, "new." + ORIGIN, "A") == "192.0.2.42", 10, 0.05, "Knot to follow serial 2")
        glog = good_log.read_text(errors="replace")
        assert re.search(r"\[example\.net\.\] IXFR, incoming, .*finished", glog), glog[-2000:]
        assert "notify acknowledged" in dnsbox.log("dnsd")
        # The wrong key: Knot never gets the zone, and says why; dnsbox refused it.
        wait_for(lambda: "failed (failed to verify TSIG)" in bad_log.read_text(errors="replace"), 15, 0.2,
                 "Knot (wrong key) to log the TSIG failure")
        assert "SERVFAIL" in subprocess.run(["kdig", "@127.0.0.1", "-p", str(bad_port), "www." + ORIGIN],
                                            capture_output=True, text=True, timeout=20).stdout
        assert 'reason="TSIG does not verify"' in dnsbox.log("dnsd")
    finally:
        stop(good)
        stop(bad)


def test_dnsbox_secondary_of_knot_with_the_key_and_then_a_wrong_one(dnsbox, tmp_path, ports):
    kport, sport = ports
    knot = Knot(tmp_path, kport, sport, ORIGIN, zone_text(ORIGIN, 1), key=("xfr", SECRET))
    try:
        knot.wait_serving(1)
        sec = Secondary(dnsbox, ORIGIN, kport, sport, extra="\toption tsig_key 'xfr'\n" + key_section()).start()
        wait_for(lambda: kdig(sport, "www." + ORIGIN, "A") == "192.0.2.1", 15, 0.1, "dnsbox to transfer with the key")
        # Knot's NOTIFY is signed; dnsbox checks it and follows by IXFR.
        knot.set_zone(zone_text(ORIGIN, 2, "new IN A 192.0.2.42\n"))
        wait_for(lambda: kdig(sport, "new." + ORIGIN, "A") == "192.0.2.42", 10, 0.05, "dnsbox to follow serial 2")
        assert "kind=IXFR" in sec.log() and "notify received" in sec.log()

        # A NOTIFY signed with a wrong key, or unsigned, is refused (NOTAUTH).
        for key in ([f"-yhmac-sha256:xfr:{WRONG}"], []):
            r = subprocess.run(["dig", "@127.0.0.1", "-p", str(sport), "+time=3", "+tries=1", "+opcode=notify",
                                "+norec", *key, ORIGIN, "SOA"], capture_output=True, text=True, timeout=20)
            assert "status: NOTAUTH" in r.stdout, r.stdout + r.stderr

        # dnsbox with the wrong secret: Knot refuses the transfer, dnsbox
        # says why and keeps serving serial 2.
        cfg = dnsbox.config_path.read_text().replace(SECRET, WRONG)
        dnsbox.config_path.write_text(cfg)
        assert dnsbox.ctl("dnsd", "reload").returncode == 0
        knot.set_zone(zone_text(ORIGIN, 3, "third IN A 192.0.2.43\n"))
        wait_for(lambda: re.search(r"zone transfer failed.*reason=\"TSIG: the primary answered BADSIG", sec.log()), 15, 0.1,
                 "dnsbox to log the refused transfer")
        assert kdig(sport, ORIGIN, "SOA").split()[2] == "2"
        assert kdig(sport, "new." + ORIGIN, "A") == "192.0.2.42"
        # Knot's own NOTIFY to the miskeyed dnsbox is refused too.
        wait_for(lambda: "server responded with error 'BADSIG'" in knot.log(), 10, 0.1, "Knot to log the refused NOTIFY")
    finally:
        knot.stop()
