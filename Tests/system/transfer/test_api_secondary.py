"""A secondary zone added through the API (`POST /api/v1/zones/transfer`,
MicroDNS's endpoint and body): dnsd transfers it from Knot, follows Knot's
NOTIFY afterwards (where MicroDNS copies a zone once), and the zone is
listed, shown and deleted through /api/v1/zones."""
from api.client import ApiServer, assert_error
from helpers import Dnsbox, need_tool, wait_for
from transfer.primaries import Knot, kdig, zone_text

ORIGIN = "example.net"
CONFIG_ZONES = "config zone\n\toption name 'home.lan'\n\toption ttl '120'\n"


def test_api_adds_a_secondary_that_follows_its_primary_then_deletes_it(dnsbox_bin, tmp_path, ports):
    need_tool("knotd")
    kport, _ = ports
    (tmp_path / "box").mkdir()
    d = Dnsbox(dnsbox_bin, tmp_path / "box")
    srv = ApiServer(d, api_options="\toption rate_limit '0'\n", zones=CONFIG_ZONES)
    knot = Knot(tmp_path, kport, srv.dns_port, ORIGIN, zone_text(ORIGIN, 1))
    try:
        knot.wait_serving(1)
        srv.start()
        a = srv.api

        # Refused before anything is stored: each names its field.
        assert_error(a.post("/api/v1/zones/transfer", {"primary": f"127.0.0.1:{kport}"}), 400, "zone")
        assert_error(a.post("/api/v1/zones/transfer", {"zone": ORIGIN}), 400, "primary")
        assert_error(a.post("/api/v1/zones/transfer", {"zone": ORIGIN, "primary": "ns1.example.net"}), 400, "primary")
        assert_error(a.post("/api/v1/zones/transfer", {"zone": ORIGIN, "primary": "127.0.0.1:99999"}), 400, "primary")
        assert_error(a.post("/api/v1/zones/transfer", {"zone": "bad..name", "primary": "127.0.0.1"}), 400, "zone")
        assert_error(a.post("/api/v1/zones/transfer", {"zone": "home.lan", "primary": "127.0.0.1"}), 409, "zone")
        assert a.get("/api/v1/zones/transfer").json()["zones"] == []

        r = a.post("/api/v1/zones/transfer", {"zone": ORIGIN + ".", "primary": f"127.0.0.1:{kport}"})
        assert r.status == 202, r
        body = r.json()
        assert (body["zone_name"], body["primaries"], body["source"]) == (ORIGIN, [f"127.0.0.1:{kport}"], "transfer")
        assert body["state"] in ("pending", "serving")

        wait_for(lambda: kdig(srv.dns_port, "www." + ORIGIN, "A") == "192.0.2.1", 15, 0.1,
                 "dnsd to serve the zone added through the API")
        assert kdig(srv.dns_port, "h49." + ORIGIN, "A") == kdig(kport, "h49." + ORIGIN, "A") != ""
        wait_for(lambda: a.get("/api/v1/zones/" + ORIGIN).json().get("state") == "serving", 5, 0.1, "state serving")
        z = a.get("/api/v1/zones/" + ORIGIN).json()
        assert (z["serial"], z["records_imported"]) == (1, 57), z
        listed = {x["name"]: x for x in a.get("/api/v1/zones").json()["zones"]}
        assert listed[ORIGIN]["source"] == "transfer" and "home.lan" in listed
        assert [x["name"] for x in a.get("/api/v1/zones/transfer").json()["zones"]] == [ORIGIN]

        # A zone of the API by that name, or records written into it: refused.
        assert_error(a.post("/api/v1/zones", {"name": ORIGIN}), 409, "name")
        r = a.post(f"/api/v1/zones/{ORIGIN}/records", {"name": "x", "type": "A", "data": "192.0.2.9"})
        assert r.status == 409 and "secondary" in r.json()["error"], r

        # Knot changes the zone and NOTIFYs: dnsd follows by IXFR.
        knot.set_zone(zone_text(ORIGIN, 2, "new IN A 192.0.2.42\n"))
        wait_for(lambda: kdig(srv.dns_port, "new." + ORIGIN, "A") == "192.0.2.42", 10, 0.05, "dnsd to follow serial 2")
        assert "kind=IXFR" in d.log("dnsd")
        wait_for(lambda: a.get("/api/v1/zones/" + ORIGIN).json().get("serial") == 2, 5, 0.1, "serial 2 in the API")

        # The same zone again changes its primaries: 200, not a second zone.
        r = a.post("/api/v1/zones/transfer", {"zone": ORIGIN, "primaries": [f"127.0.0.1:{kport}", "192.0.2.200"]})
        assert r.status == 200 and r.json()["primaries"] == [f"127.0.0.1:{kport}", "192.0.2.200"], r

        assert a.delete("/api/v1/zones/" + ORIGIN).status == 204
        wait_for(lambda: "REFUSED" in srv.dig("www." + ORIGIN).out, 5, 0.05, "dnsd to stop serving it")
        assert a.get("/api/v1/zones/" + ORIGIN).status == 404
        assert a.delete("/api/v1/zones/" + ORIGIN).status == 404
    finally:
        knot.stop()
        d.stop_all()
