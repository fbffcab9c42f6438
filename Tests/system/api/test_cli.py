"""apictl's command-line client (`dnsbox apictl -c CONF ...`) against a running
server.
"""
from __future__ import annotations

import json

from api.client import wait_dns


def test_cli_client(api):
    """`dnsbox apictl -c CONF ...` (-c after the applet, as for every applet)."""
    conf = str(api.d.config_path)

    def cli(*args):
        return api.d.run("apictl", "-c", conf, *args)

    r = cli("set", "cli-svc", "10.0.0.9", "10.0.0.10")
    assert r.returncode == 0, r
    r = cli("get", "/v1/services/cli-svc")
    assert r.returncode == 0, r
    j = json.loads(r.stdout)
    assert j["name"] == "cli-svc" and sorted(j["records"]) == ["10.0.0.10", "10.0.0.9"]
    wait_dns(api.dns_port, "cli-svc.service.local", ["10.0.0.10", "10.0.0.9"])
    r = cli("services")
    assert r.returncode == 0 and "cli-svc" in json.loads(r.stdout)["services"], r
    r = cli("health")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "ok", r
    r = cli("metrics")
    assert r.returncode == 0 and "dnsbox_api_writes_total" in r.stdout, r
    r = cli("zones")
    assert r.returncode == 0 and any(z["name"] == "service.local" for z in json.loads(r.stdout)["zones"]), r
    r = cli("delete", "cli-svc")
    assert r.returncode == 0, r
    r = cli("get", "/v1/services/cli-svc")
    assert r.returncode == 1 and r.stderr.strip(), r
    r = cli("set", "cli-bad", "10.0.0.300")
    assert r.returncode == 1 and r.stderr.strip(), r
