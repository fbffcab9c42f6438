"""What apictl reports: health, leases, /metrics (also with init supervising
the applets), the control socket and the audit log.
"""
from __future__ import annotations

import json
import signal
import sqlite3

import pytest

from api.client import assert_error, own, wait_dns
from helpers import exec_prefix, wait_for


def test_health_leases_and_ctl(api):
    r = api.api.get("/api/v1/health")
    assert r.status == 200, r
    j = r.json()
    assert j["status"] == "ok" and isinstance(j["version"], str) and j["version"]
    assert isinstance(j["zones"], int) and j["zones"] >= 1
    assert isinstance(j["uptime_seconds"], (int, float)) and j["uptime_seconds"] >= 0
    assert api.d.ctl("apictl", "ping").stdout.strip() == "pong"
    assert api.d.ctl("apictl", "status").returncode == 0


def test_leases(api):
    import sqlite3
    # A lease as dhcpd commits it (Store.commitLeases' columns).
    with sqlite3.connect(api.d.database, timeout=5) as db:
        db.execute("INSERT OR REPLACE INTO leases(address, interface, client, mac, expires, state, name, updated) "
                   "VALUES('192.168.1.77', 'br-lan', x'01aabbccddee77', 'aa:bb:cc:dd:ee:77', 4102444800, 2, 'laptop', 0)")
    r = api.api.get("/api/v1/leases")
    assert r.status == 200, r
    got = [l for l in r.json()["leases"] if l["address"] == "192.168.1.77"]
    assert got == [{"address": "192.168.1.77", "mac": "aa:bb:cc:dd:ee:77", "name": "laptop", "interface": "br-lan",
                    "expires": 4102444800, "state": "bound"}], r.json()
    r = api.d.run("apictl", "-c", str(api.d.config_path), "leases")
    assert r.returncode == 0 and isinstance(json.loads(r.stdout)["leases"], list), r


def test_metrics(api):
    prom = pytest.importorskip("prometheus_client.parser")
    assert api.api.put_service("metered", ["10.0.17.1"]).status == 200
    wait_dns(api.dns_port, "metered.service.local", ["10.0.17.1"])
    r = api.api.get("/metrics")
    assert r.status == 200, r
    ctype = r.header("content-type") or ""
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, r
    samples = [s for fam in prom.text_string_to_metric_families(r.body.decode()) for s in fam.samples]
    names = {s.name for s in samples}
    assert "dnsbox_dns_queries_total" in names and "dnsbox_api_writes_total" in names, sorted(names)
    assert all(n.startswith("dnsbox_") for n in names), sorted(names)
    writes = [s for s in samples if s.name == "dnsbox_api_writes_total"]
    assert all("route" in s.labels and "status" in s.labels for s in writes)
    assert sum(s.value for s in writes) >= 1
    queries = [s for s in samples if s.name == "dnsbox_dns_queries_total"]
    assert sum(s.value for s in queries) >= 1 and all("rcode" in s.labels for s in queries)
    assert_error(api.api.get("/metrics", token=None), 401)


def test_audit_log_line_per_write(api):
    assert api.api.put_service("audited", ["10.0.18.77"]).status == 200
    wait_for(lambda: [ln for ln in api.d.log("apictl").splitlines()
                      if "audited" in ln and "10.0.18.77" in ln and "PUT" in ln], 3, 0.05, "an audit line")


def test_init_runs_apictl_serve_and_metrics_see_the_applets(dnsbox):
    """init starts `apictl serve` (apictl without a subcommand is the client)
    next to dnsd; /metrics reports both as up with init's restart counts."""
    if exec_prefix():
        pytest.skip("init re-executes itself; not under a user-mode emulator")
    prom = pytest.importorskip("prometheus_client.parser")
    srv = own(dnsbox)
    init = dnsbox.start("init", "-c", str(dnsbox.config_path), name="init")
    dnsbox.wait_ready("init")
    dnsbox.wait_ready("dnsd")
    srv.apictl = init  # wait_http checks that this process is alive
    srv.wait_http()
    assert srv.api.put_service("supervised", ["10.0.44.1"]).status == 200
    wait_dns(srv.dns_port, "supervised.service.local", ["10.0.44.1"])
    r = srv.api.get("/metrics")
    assert r.status == 200, r
    up = {s.labels["applet"]: s.value for fam in prom.text_string_to_metric_families(r.body.decode())
          for s in fam.samples if s.name == "dnsbox_applet_up"}
    assert up.get("dnsd") == 1 and up.get("apictl") == 1, up
    restarts = {s.labels["applet"]: s.value for fam in prom.text_string_to_metric_families(r.body.decode())
                for s in fam.samples if s.name == "dnsbox_applet_restarts_total"}
    assert restarts == {"dnsd": 0, "apictl": 0}, restarts
    init.send_signal(signal.SIGTERM)
    assert init.wait(timeout=15) == 0
