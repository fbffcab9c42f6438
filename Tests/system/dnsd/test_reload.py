"""dnsd picking up changes: a reload with a broken zone file keeps the
previous version, reloads swap atomically under load across workers, and
zones written into the store are served and followed."""
import socket
import time

from dnsd.authoritative import ZONE, dig, free_port
from helpers import section, wait_for


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
