"""apictl in CGI mode under lighttpd, next to a real dnsd."""
from __future__ import annotations

import socket
import subprocess

import pytest

from api.client import Api, assert_error, own, wait_dns
from helpers import exec_prefix, free_port, need_tool, wait_for

LIGHTTPD_CONF = """server.document-root = "{dir}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.errorlog = "{dir}/lighttpd-error.log"
alias.url = ("/cgi/" => "{dir}/cgi/")
$HTTP["url"] =~ "^/cgi/" {{ cgi.assign = ("" => "") }}
setenv.add-environment = ("DNSBOX_CONFIG" => "{conf}")
"""


def test_cgi_mode_under_lighttpd(dnsbox, tmp_path):
    lighttpd = need_tool("lighttpd")
    need_tool("curl")
    if exec_prefix():
        pytest.skip("CGI needs the binary to run natively (DNSBOX_EXEC_PREFIX is set)")
    srv = own(dnsbox)
    srv.dnsd = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    (tmp_path / "www").mkdir()
    (tmp_path / "cgi").mkdir()
    (tmp_path / "cgi" / "apictl").symlink_to(dnsbox.binary)
    port = free_port()
    conf = tmp_path / "lighttpd.conf"
    conf.write_text(LIGHTTPD_CONF.format(dir=tmp_path, port=port, conf=dnsbox.config_path))
    log = open(tmp_path / "lighttpd.log", "ab")
    lt = subprocess.Popen([lighttpd, "-D", "-f", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        cgi = Api(port)
        wait_for(lambda: _connects(port), 5, 0.05, "lighttpd")
        base = "/cgi/apictl"
        r = cgi.put(f"{base}/v1/services/valkey", {"type": "A", "records": ["10.0.0.12"], "ttl": 5})
        assert r.status == 200, (r, (tmp_path / "lighttpd-error.log").read_text(errors="replace")[-2000:])
        assert r.header("content-type").startswith("application/json")
        assert r.json()["fqdn"] == "valkey.service.local" and r.json()["records"] == ["10.0.0.12"]
        r = cgi.get(f"{base}/v1/services/valkey")
        assert r.status == 200 and r.json()["records"] == ["10.0.0.12"], r
        wait_dns(srv.dns_port, "valkey.service.local", ["10.0.0.12"])
        assert "valkey" in cgi.get(f"{base}/v1/services").json()["services"]
        assert cgi.get(f"{base}/v1/services?zone=service.local").status == 200
        assert_error(cgi.get(f"{base}/v1/services/valkey", token=None), 401)
        assert_error(cgi.get(f"{base}/v1/services/valkey", token="wrong"), 401)
        assert_error(cgi.put(f"{base}/v1/services/valkey", {"type": "A", "records": ["x"]}), 400, "records")
        assert_error(cgi.get(f"{base}/v1/nope"), 404)
        assert cgi.delete(f"{base}/v1/services/valkey").status == 204
        wait_dns(srv.dns_port, "valkey.service.local", ["10.0.0.1"])
    finally:
        lt.terminate()
        try:
            lt.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lt.kill()
            lt.wait()


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
