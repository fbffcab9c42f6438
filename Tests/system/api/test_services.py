"""apictl, the HTTP API: dynresolve-compatible services (/v1), zones and
records (/api/v1), health, leases and /metrics, its command-line client and
CGI mode under lighttpd, always against a real dnsd sharing the store.

`dnsbox dnsd -c CONF` and `dnsbox apictl serve` (config from $DNSBOX_CONFIG)
run as two processes on one config; requests go through http.client (raw
sockets where the request itself is malformed), answers through dig and a
small raw UDP client. Most tests share one server pair per module (`api`: one
dynamic zone with a fallback; `multi`: two dynamic zones), each test with its
own names; what needs its own options, a restart or a kill gets its own pair.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import Dnsbox, exec_prefix, free_port, need_root, need_tool, section, wait_for

TOKEN = "test-token-5e3a"

# ---- helpers ----------------------------------------------------------------


class Resp:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, will_close: bool = False):
        self.status, self.headers, self.body, self.will_close = status, headers, body, will_close

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<HTTP {self.status} {self.headers} {self.body[:600]!r}>"


def _resp(r: http.client.HTTPResponse) -> Resp:
    body = r.read()
    return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, body, r.will_close)


class Api:
    """An HTTP client for one apictl: a new connection per request."""

    def __init__(self, port: int, host: str = "127.0.0.1", token: str | None = TOKEN):
        self.host, self.port, self.token = host, port, token

    def headers(self, token="default", extra=None, body=False) -> dict:
        h = {}
        token = self.token if token == "default" else token
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body:
            h["Content-Type"] = "application/json"
        h.update(extra or {})
        return h

    def request(self, method: str, path: str, body=None, token="default", headers=None,
                timeout: float = 10) -> Resp:
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=self.headers(token, headers, data is not None))
            return _resp(conn.getresponse())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def put_service(self, name, records, type="A", ttl=None, zone=None) -> Resp:
        body = {"type": type, "records": records}
        if ttl is not None:
            body["ttl"] = ttl
        return self.put(f"/v1/services/{name}" + (f"?zone={zone}" if zone else ""), body)


def assert_error(r: Resp, status: int, field: str | None = None) -> dict:
    """An error as the contract has it: the status, a JSON body with an
    "error" string, and "field" naming the field at fault when given."""
    assert r.status == status, r
    assert (r.header("content-type") or "").startswith("application/json"), r
    j = r.json()
    assert isinstance(j.get("error"), str) and j["error"], r
    if field is not None:
        assert j.get("field") == field, r
    return j


def raw_http(port: int, data: bytes, host: str = "127.0.0.1", timeout: float = 5.0,
             then: bytes | None = None) -> Resp | None:
    """Sends `data` as it is on a new connection and reads one response (None
    if the server closed without one). With `then`, sends that too if no
    response came within 1 s (a body the server may refuse unread)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        if then is not None:
            r, _, _ = select.select([s], [], [], 1.0)
            if not r:
                try:
                    s.sendall(then)
                except (BrokenPipeError, ConnectionResetError):
                    pass
        return read_response(s)
    finally:
        s.close()


def read_response(s: socket.socket) -> Resp | None:
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None if not buf else Resp(0, {}, buf)
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return Resp(status, headers, body[:n])
    except ConnectionResetError:
        return None if not buf else Resp(0, {}, buf)


# ---- DNS: dig and a raw UDP client --------------------------------------------


class Reply:
    """dig's output, parsed."""

    def __init__(self, out: str):
        self.out = out
        m = re.search(r"status: (\w+)", out)
        self.status = m.group(1) if m else None
        m = re.search(r";; flags: ([^;]*);", out)
        self.flags = set(m.group(1).split()) if m else set()
        self.answer = section(out, "ANSWER")
        self.authority = section(out, "AUTHORITY")

    def ttls(self) -> list[int]:
        return [int(rr.split()[1]) for rr in self.answer]

    def data(self, sec: str = "answer") -> list[str]:
        """Records without their TTLs, sorted."""
        return sorted(" ".join(rr.split()[:1] + rr.split()[2:]) for rr in getattr(self, sec))

    def values(self) -> list[str]:
        """The answer's RDATA (for A/AAAA: the addresses), sorted."""
        return sorted(" ".join(rr.split()[4:]) for rr in self.answer)

    def __repr__(self):
        return self.out


def dig(port: int, *args: str, server: str = "127.0.0.1") -> Reply:
    r = subprocess.run(["dig", f"@{server}", "-p", str(port), "+time=2", "+tries=1", *args],
                       capture_output=True, text=True, timeout=30)
    return Reply(r.stdout + r.stderr)


def wire_query(name: str, qtype: int = 1, qid: int = 0x4242) -> bytes:
    q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", qtype, 1)


def _skip_name(msg: bytes, i: int) -> int:
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def parse_answers(msg: bytes) -> tuple[int, int, list[tuple[int, int, bytes]]]:
    """(flags, rcode, [(type, ttl, rdata)] of the answer section)."""
    flags, qd, an = struct.unpack("!HHH", msg[2:8])
    i = 12
    for _ in range(qd):
        i = _skip_name(msg, i) + 4
    out = []
    for _ in range(an):
        i = _skip_name(msg, i)
        rtype, _, ttl, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
        i += 10
        out.append((rtype, ttl, msg[i:i + rdlen]))
        i += rdlen
    return flags, flags & 0x0F, out


def addresses(answers) -> list[str]:
    return sorted(socket.inet_ntop(socket.AF_INET if t == 1 else socket.AF_INET6, rd)
                  for t, _, rd in answers if t in (1, 28))


class UdpClient:
    def __init__(self, port: int, timeout: float = 1.0):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(timeout)
        self.qid = 0

    def ask(self, name: str, qtype: int = 1):
        """(rcode, [addresses]) or None on a timeout."""
        self.qid = (self.qid + 1) & 0xFFFF
        self.s.sendto(wire_query(name, qtype, self.qid), ("127.0.0.1", self.port))
        try:
            while True:
                r, _ = self.s.recvfrom(65535)
                if r[:2] == self.qid.to_bytes(2, "big"):
                    _, rcode, ans = parse_answers(r)
                    return rcode, addresses(ans)
        except socket.timeout:
            return None

    def close(self):
        self.s.close()


def wait_dns(port: int, name: str, want: list[str], qtype: int = 1, timeout: float = 3.0):
    """Polls until `name` answers exactly the addresses `want` (sorted)."""
    c = UdpClient(port, 0.5)
    try:
        return wait_for(lambda: (c.ask(name, qtype) or (None, None))[1] == sorted(want), timeout, 0.005,
                        f"{name} to answer {want}")
    finally:
        c.close()


# ---- servers ------------------------------------------------------------------

ZONE_SERVICE = ("config zone\n\toption name 'service.local'\n\toption dynamic '1'\n"
                "\toption fallback '10.0.0.1'\n\toption service_ttl '7'\n")


class ApiServer:
    """dnsd and `apictl serve` on one config, in one Dnsbox directory."""

    def __init__(self, d: Dnsbox, api_options: str = "", zones: str = ZONE_SERVICE, dns: bool = True,
                 listen: str | None = None, token: str = TOKEN, env: dict | None = None,
                 wrap: list[str] | None = None):
        self.d = d
        self.dns = dns
        self.dns_port = free_port()
        self.port = free_port()
        self.env = {"DNSBOX_CONFIG": str(d.config_path), **(env or {})}
        self.wrap = wrap
        self.api = Api(self.port)
        self.dnsd: subprocess.Popen | None = None
        self.apictl: subprocess.Popen | None = None
        body = ""
        if dns:
            body += f"config dnsd 'main'\n\tlist listen '127.0.0.1:{self.dns_port}'\n\toption workers '2'\n"
        body += (f"config api 'main'\n\toption listen '{listen or f'127.0.0.1:{self.port}'}'\n"
                 f"\toption token '{token}'\n" + api_options + zones)
        d.write_config(body)

    def start(self, wait: bool = True):
        if self.dns:
            self.dnsd = self.d.start("dnsd", "-c", str(self.d.config_path), name="dnsd", wrap=self.wrap)
            self.d.wait_ready("dnsd")
        self.apictl = self.d.start("apictl", "serve", name="apictl", env=self.env, wrap=self.wrap)
        if wait:
            self.wait_http()
        return self

    def wait_http(self, timeout: float = 10):
        def up():
            if self.apictl.poll() is not None:
                raise AssertionError(f"apictl exited with {self.apictl.returncode}:\n{self.d.log('apictl')[-3000:]}")
            try:
                return self.api.get("/api/v1/health", timeout=2).status
            except OSError:
                return None
        wait_for(up, timeout, 0.05, "apictl to answer HTTP")

    def stop(self, sig=signal.SIGTERM):
        for p in (self.apictl, self.dnsd):
            if p is not None and p.poll() is None:
                p.send_signal(sig)
        for p in (self.apictl, self.dnsd):
            if p is not None:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def dig(self, *args) -> Reply:
        return dig(self.dns_port, *args)

    def logs(self) -> str:
        return "".join(f"\n----- {n}.log -----\n{self.d.log(n)[-3000:]}" for n in ("dnsd", "apictl"))


def _module_server(dnsbox_bin, tmp_path_factory, name, **kw):
    need_tool("dig")
    d = Dnsbox(dnsbox_bin, tmp_path_factory.mktemp(name))
    srv = ApiServer(d, **kw)
    try:
        srv.start()
    except BaseException:
        print(srv.logs())
        d.stop_all()
        raise
    return srv, d


@pytest.fixture(scope="module")
def api(dnsbox_bin, tmp_path_factory):
    srv, d = _module_server(dnsbox_bin, tmp_path_factory, "api",
                            api_options="\toption rate_limit '0'\n\toption audit '1'\n\tlist allow '127.0.0.0/8'\n")
    yield srv
    d.stop_all()


ZONES_MULTI = ("config zone\n\toption name 'a.local'\n\toption dynamic '1'\n"
               "config zone\n\toption name 'b.local'\n\toption dynamic '1'\n"
               "\tlist fallback '10.0.0.2'\n\tlist fallback 'fd00::2'\n")


@pytest.fixture(scope="module")
def multi(dnsbox_bin, tmp_path_factory):
    srv, d = _module_server(dnsbox_bin, tmp_path_factory, "multi", api_options="\toption rate_limit '0'\n",
                            zones=ZONES_MULTI)
    yield srv
    d.stop_all()


@pytest.fixture(autouse=True)
def _server_logs_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for v in request.node.funcargs.values():
            if isinstance(v, ApiServer):
                print(v.logs())


def own(dnsbox, **kw) -> ApiServer:
    need_tool("dig")
    return ApiServer(dnsbox, **kw)


# ---- services and DNS -----------------------------------------------------------


def test_put_then_resolve_authoritatively_with_the_ttl(api):
    r = api.api.put_service("valkey", ["10.0.0.12"], ttl=5)
    assert r.status == 200, r
    assert r.json() == {"name": "valkey", "fqdn": "valkey.service.local", "zone": "service.local",
                        "type": "A", "records": ["10.0.0.12"], "ttl": 5}
    wait_dns(api.dns_port, "valkey.service.local", ["10.0.0.12"])
    out = api.dig("valkey.service.local", "A", "+norec")
    assert out.status == "NOERROR" and "aa" in out.flags, out
    assert out.answer == ["valkey.service.local. 5 IN A 10.0.0.12"]


def test_several_records(api):
    recs = ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
    assert api.api.put_service("multi-rec", recs, ttl=30).status == 200
    wait_dns(api.dns_port, "multi-rec.service.local", recs)
    out = api.dig("multi-rec.service.local")
    assert out.values() == recs and out.ttls() == [30, 30, 30]


def test_fallback_for_unknown_names_and_after_delete(api):
    out = api.dig("nothere.service.local", "A")
    assert out.status == "NOERROR" and "aa" in out.flags, out
    assert out.values() == ["10.0.0.1"]
    assert api.api.put_service("gone", ["10.0.2.1"]).status == 200
    wait_dns(api.dns_port, "gone.service.local", ["10.0.2.1"])
    assert api.api.delete("/v1/services/gone").status == 204
    wait_dns(api.dns_port, "gone.service.local", ["10.0.0.1"])


def test_tcp_and_edns0_queries(api):
    assert api.api.put_service("tcpsvc", ["10.0.3.1", "10.0.3.2"]).status == 200
    wait_dns(api.dns_port, "tcpsvc.service.local", ["10.0.3.1", "10.0.3.2"])
    out = api.dig("tcpsvc.service.local", "+tcp")
    assert out.status == "NOERROR" and "aa" in out.flags and out.values() == ["10.0.3.1", "10.0.3.2"], out
    out = api.dig("tcpsvc.service.local", "+edns=0", "+bufsize=1232")
    assert "OPT PSEUDOSECTION" in out.out and "EDNS: version: 0" in out.out, out
    assert out.values() == ["10.0.3.1", "10.0.3.2"]
    out = api.dig("tcpsvc.service.local", "+tcp", "+edns=0")
    assert out.values() == ["10.0.3.1", "10.0.3.2"] and "EDNS: version: 0" in out.out


def test_get_list_put_delete(api):
    a = api.api
    assert_error(a.get("/v1/services/crud"), 404)
    r = a.put_service("crud", ["10.0.4.1"], ttl=9)
    assert r.status == 200, r
    want = {"name": "crud", "fqdn": "crud.service.local", "zone": "service.local", "type": "A",
            "records": ["10.0.4.1"], "ttl": 9}
    assert r.json() == want
    r = a.get("/v1/services/crud")
    assert r.status == 200 and r.json() == want and r.header("content-type").startswith("application/json")
    lst = a.get("/v1/services")
    assert lst.status == 200, lst
    j = lst.json()
    assert j["zone"] == "service.local"
    assert j["services"]["crud"] == {"type": "A", "records": ["10.0.4.1"], "ttl": 9}
    # PUT replaces the whole service.
    r = a.put_service("crud", ["10.0.4.2", "10.0.4.3", "10.0.4.2"], ttl=11)
    assert r.status == 200 and sorted(r.json()["records"]) == ["10.0.4.2", "10.0.4.3"], r
    assert sorted(a.get("/v1/services/crud").json()["records"]) == ["10.0.4.2", "10.0.4.3"]
    wait_dns(api.dns_port, "crud.service.local", ["10.0.4.2", "10.0.4.3"])
    r = a.delete("/v1/services/crud")
    assert r.status == 204 and r.body == b"", r
    assert_error(a.get("/v1/services/crud"), 404)
    assert_error(a.delete("/v1/services/crud"), 404)
    assert "crud" not in a.get("/v1/services").json()["services"]


@pytest.mark.parametrize("path,body,field", [
    ("/v1/services/v1", {"type": "MX", "records": ["10.0.0.5"]}, "type"),
    ("/v1/services/v1", {"type": "CNAME", "records": ["10.0.0.5"]}, "type"),
    ("/v1/services/v1", {"type": "A", "records": ["10.0.0.256"]}, "records"),
    ("/v1/services/v1", {"type": "A", "records": ["not-an-ip"]}, "records"),
    ("/v1/services/v1", {"type": "A", "records": ["2001:db8::1"]}, "records"),
    ("/v1/services/v1", {"type": "AAAA", "records": ["10.0.0.5"]}, "records"),
    ("/v1/services/v1", {"type": "A", "records": []}, "records"),
    ("/v1/services/v1", {"type": "A"}, "records"),
    ("/v1/services/v1", {"type": "A", "records": [f"10.1.0.{i}" for i in range(1, 66)]}, None),
    ("/v1/services/bad_name", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/-lead", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/trail-", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/" + "x" * 64, {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/" + ".".join(["abcdefghi"] * 25), {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/valkey.example.org", {"type": "A", "records": ["10.0.0.5"]}, "name"),
    ("/v1/services/v1", "{not json", None),
    ("/v1/services/v1", "[1, 2]", None),
], ids=["type-MX", "type-CNAME", "ip-256", "ip-text", "ipv6-in-A", "ipv4-in-AAAA", "no-records",
        "records-absent", "65-records", "underscore", "leading-hyphen", "trailing-hyphen", "label-64",
        "name-over-253", "outside-zone", "invalid-json", "json-not-object"])
def test_validation_errors(api, path, body, field):
    r = api.api.put(path, body)
    assert_error(r, 400, field)
    assert api.api.get("/v1/services/v1").status == 404


def test_a_bad_put_leaves_the_service_as_it_was(api):
    a = api.api
    assert a.put_service("keep", ["10.0.5.1"]).status == 200
    assert_error(a.put_service("keep", ["10.0.5.999"]), 400, "records")
    assert_error(a.put_service("keep", ["10.0.5.2"], type="TXT"), 400, "type")
    assert a.get("/v1/services/keep").json()["records"] == ["10.0.5.1"]
    wait_dns(api.dns_port, "keep.service.local", ["10.0.5.1"])


def test_short_and_full_names_are_one_service(api):
    a = api.api
    r = a.put_service("web.service.local", ["10.0.6.1"])
    assert r.status == 200, r
    assert r.json()["name"] == "web" and r.json()["fqdn"] == "web.service.local" and r.json()["zone"] == "service.local"
    for path in ("/v1/services/web", "/v1/services/web.service.local", "/v1/services/WEB.Service.Local",
                 "/v1/services/web.service.local."):
        r = a.get(path)
        assert r.status == 200 and r.json()["records"] == ["10.0.6.1"], (path, r)
    r = a.put_service("web", ["10.0.6.2"])
    assert r.status == 200 and r.json()["fqdn"] == "web.service.local"
    assert a.get("/v1/services/web.service.local").json()["records"] == ["10.0.6.2"]
    assert list(a.get("/v1/services").json()["services"]).count("web") == 1
    wait_dns(api.dns_port, "web.service.local", ["10.0.6.2"])
    assert a.delete("/v1/services/web.service.local").status == 204
    assert a.get("/v1/services/web").status == 404


def test_case_insensitive_names(api):
    r = api.api.put_service("Valkey2", ["10.0.7.1"])
    assert r.status == 200 and r.json()["name"] == "valkey2" and r.json()["fqdn"] == "valkey2.service.local", r
    assert "valkey2" in api.api.get("/v1/services").json()["services"]
    assert api.api.get("/v1/services/VALKEY2").status == 200
    wait_dns(api.dns_port, "VALKEY2.SERVICE.LOCAL", ["10.0.7.1"])
    out = api.dig("VALKEY2.SERVICE.LOCAL")
    assert out.status == "NOERROR" and out.values() == ["10.0.7.1"], out


def test_record_add_dedupe_and_partial_remove(api):
    a = api.api
    p = "/v1/services/adds/records"
    r = a.post(p, {"records": ["10.0.8.1"], "ttl": 12})
    assert r.status == 200, r
    assert r.json() == {"name": "adds", "fqdn": "adds.service.local", "zone": "service.local", "type": "A",
                        "records": ["10.0.8.1"], "ttl": 12}
    r = a.post(p, {"records": ["10.0.8.2", "10.0.8.1", "10.0.8.3", "10.0.8.3"]})
    assert r.status == 200 and sorted(r.json()["records"]) == ["10.0.8.1", "10.0.8.2", "10.0.8.3"], r
    wait_dns(api.dns_port, "adds.service.local", ["10.0.8.1", "10.0.8.2", "10.0.8.3"])
    r = a.delete(p, {"records": ["10.0.8.2"]})
    assert r.status == 200 and sorted(r.json()["records"]) == ["10.0.8.1", "10.0.8.3"], r
    wait_dns(api.dns_port, "adds.service.local", ["10.0.8.1", "10.0.8.3"])
    r = a.delete(p, {"records": ["10.0.8.1", "10.0.8.3"]})
    assert r.status == 204, r
    assert_error(a.get("/v1/services/adds"), 404)
    wait_dns(api.dns_port, "adds.service.local", ["10.0.0.1"])  # the fallback again


def test_record_add_infers_aaaa(api):
    r = api.api.post("/v1/services/adds6/records", {"records": ["2001:db8::8"]})
    assert r.status == 200 and r.json()["type"] == "AAAA" and r.json()["records"] == ["2001:db8::8"], r
    wait_dns(api.dns_port, "adds6.service.local", ["2001:db8::8"], qtype=28)


def test_record_remove_and_add_errors(api):
    a = api.api
    assert_error(a.delete("/v1/services/never-was/records", {"records": ["10.0.9.1"]}), 404)
    assert_error(a.post("/v1/services/radd/records", {"records": ["10.0.9.300"]}), 400, "records")
    assert_error(a.post("/v1/services/radd/records", {"records": []}), 400, "records")
    assert a.get("/v1/services/radd").status == 404
    assert a.put_service("radd", ["10.0.9.1"]).status == 200
    assert a.get("/v1/services/radd").json()["records"] == ["10.0.9.1"]


def test_unsupported_query_type_is_nodata(api):
    assert api.api.put_service("mxq", ["10.0.10.1"]).status == 200
    wait_dns(api.dns_port, "mxq.service.local", ["10.0.10.1"])
    for qtype in ("MX", "TXT"):
        out = api.dig("mxq.service.local", qtype)
        assert out.status == "NOERROR" and "aa" in out.flags and out.answer == [], out
        assert out.authority and out.authority[0].split()[3] == "SOA", out
        assert out.authority[0].startswith("service.local. ")


def test_default_ttl_is_the_zones_service_ttl(api):
    r = api.api.put_service("ttl0", ["10.0.11.1"], ttl=0)
    assert r.status == 200 and r.json()["ttl"] == 7, r
    r = api.api.put_service("ttlnone", ["10.0.11.2"])
    assert r.status == 200 and r.json()["ttl"] == 7, r
    assert api.api.get("/v1/services").json()["services"]["ttl0"]["ttl"] == 7
    wait_dns(api.dns_port, "ttl0.service.local", ["10.0.11.1"])
    assert api.dig("ttl0.service.local").ttls() == [7]
    assert api.dig("ttlnone.service.local").ttls() == [7]


def test_aaaa_service(api):
    r = api.api.put_service("v6", ["2001:db8::5", "2001:db8::6"], type="AAAA", ttl=20)
    assert r.status == 200 and r.json()["type"] == "AAAA", r
    wait_dns(api.dns_port, "v6.service.local", ["2001:db8::5", "2001:db8::6"], qtype=28)
    out = api.dig("v6.service.local", "AAAA")
    assert "aa" in out.flags and out.data() == ["v6.service.local. IN AAAA 2001:db8::5",
                                                 "v6.service.local. IN AAAA 2001:db8::6"], out
    assert out.ttls() == [20, 20]


def test_write_is_visible_in_dns_quickly(api):
    c = UdpClient(api.dns_port, 0.5)
    delays = []
    try:
        for i in range(20):
            addr = f"10.0.12.{i + 1}"
            r = api.api.put_service("fast", [addr])
            assert r.status == 200, r
            t0 = time.monotonic()
            while (c.ask("fast.service.local") or (None, None))[1] != [addr]:
                assert time.monotonic() - t0 < 1.0, f"{addr} not in DNS 1 s after the 200"
            delays.append(time.monotonic() - t0)
    finally:
        c.close()
    print(f"write -> DNS: median {sorted(delays)[len(delays) // 2] * 1000:.2f} ms, max {max(delays) * 1000:.2f} ms")


def test_parallel_queries_while_the_api_writes(api):
    """8 clients query one service while 100 PUTs change its address: every
    query answered, each answer one address that was written (never the
    fallback, an empty or a mixed answer)."""
    assert api.api.put_service("par", ["10.2.0.0"]).status == 200
    wait_dns(api.dns_port, "par.service.local", ["10.2.0.0"])
    written = {"10.2.0.0"}
    stop = threading.Event()
    bad, seen, counts = [], set(), []

    def client():
        c = UdpClient(api.dns_port, 2.0)
        n = 0
        try:
            while not stop.is_set():
                r = c.ask("par.service.local")
                n += 1
                if r is None or r[0] != 0 or len(r[1]) != 1:
                    bad.append(r)
                else:
                    seen.add(r[1][0])
        finally:
            c.close()
            counts.append(n)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    statuses = []
    try:
        for i in range(1, 101):
            addr = f"10.2.{i // 250}.{i % 250 + 1}"
            written.add(addr)
            statuses.append(api.api.put_service("par", [addr]).status)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses == [200] * 100
    assert not bad, bad[:5]
    assert seen <= written, seen - written
    assert len(seen) > 1 and sum(counts) > 100


def test_fifty_records_over_tcp(api):
    recs = [f"10.3.0.{i}" for i in range(1, 51)]
    r = api.api.put_service("fifty", recs)
    assert r.status == 200 and len(r.json()["records"]) == 50, r
    wait_for(lambda: len(api.dig("fifty.service.local", "+tcp").answer) == 50, 3, 0.05, "50 answers")
    out = api.dig("fifty.service.local", "+tcp")
    assert out.values() == sorted(recs)
    r = api.api.put_service("sixtyfour", [f"10.3.1.{i}" for i in range(1, 65)])
    assert r.status == 200 and len(r.json()["records"]) == 64, r


# ---- HTTP protocol edges -------------------------------------------------------------


def test_auth_required_everywhere(api):
    a = api.api
    for method, path, body in (("GET", "/v1/services", None), ("GET", "/v1/services/valkey", None),
                               ("PUT", "/v1/services/noauth", {"type": "A", "records": ["10.0.13.1"]}),
                               ("GET", "/api/v1/zones", None), ("GET", "/api/v1/health", None),
                               ("GET", "/metrics", None)):
        assert_error(a.request(method, path, body, token=None), 401)
        assert_error(a.request(method, path, body, token="wrong-token"), 401)
    assert_error(a.get("/v1/services", token=None, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    assert_error(a.get("/v1/services", token=None, headers={"Authorization": TOKEN}), 401)
    assert a.get("/v1/services/noauth").status == 404


def test_unknown_route_and_wrong_method(api):
    a = api.api
    for path in ("/v1/nope", "/", "/api/v2/zones", "/v1/services/a/b/c"):
        assert_error(a.get(path), 404)
    assert_error(a.get("/api/v1/zones/no-such-zone.test"), 404)
    r = a.request("PATCH", "/v1/services/x", {"type": "A", "records": ["10.0.0.1"]})
    assert_error(r, 405)
    assert "PUT" in (r.header("allow") or ""), r
    r = a.post("/api/v1/health", {})
    assert_error(r, 405)
    assert "GET" in (r.header("allow") or ""), r
    r = a.delete("/v1/services")
    assert_error(r, 405)
    assert "GET" in (r.header("allow") or ""), r


def test_chunked_and_missing_content_length(api):
    head = (f"PUT /v1/services/chunky HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\n")
    body = b'{"type":"A","records":["10.0.14.1"]}'
    r = raw_http(api.port, (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
                 + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    assert r is not None and r.status in (411, 501), r
    assert "error" in json.loads(r.body)
    r = raw_http(api.port, (head + "\r\n").encode())
    assert r is not None
    assert_error(r, 411)
    assert api.api.get("/v1/services/chunky").status == 404


def test_oversized_body_and_header_block(api):
    body = b'{"type":"A","records":["10.0.15.1"],"pad":"' + b"x" * 1_100_000 + b'"}'
    r = raw_http(api.port, (f"PUT /v1/services/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode(),
                 then=body)
    assert r is not None
    assert_error(r, 413)
    r = raw_http(api.port, (f"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                            f"X-Big: {'a' * 17000}\r\n\r\n").encode())
    assert r is not None
    assert_error(r, 431)
    assert api.api.get("/v1/services/big").status == 404
    assert api.api.get("/api/v1/health").status == 200


def test_keep_alive(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    try:
        h = {"Authorization": f"Bearer {TOKEN}"}
        conn.request("GET", "/api/v1/health", headers=h)
        r1 = _resp(conn.getresponse())
        assert r1.status == 200 and not r1.will_close, r1
        sock = conn.sock
        assert sock is not None
        conn.request("PUT", "/v1/services/ka", body=json.dumps({"type": "A", "records": ["10.0.16.1"]}),
                     headers={**h, "Content-Type": "application/json"})
        r2 = _resp(conn.getresponse())
        assert r2.status == 200, r2
        assert conn.sock is sock, "the second request went over a new connection"
        conn.request("GET", "/v1/services/ka", headers=h)
        r3 = _resp(conn.getresponse())
        assert r3.status == 200 and r3.json()["records"] == ["10.0.16.1"] and conn.sock is sock
    finally:
        conn.close()


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


# ---- zones and records REST ---------------------------------------------------------------

EVERY_TYPE = [
    # (record body, dig name, dig type, what dig shows without TTL)
    ({"name": "www", "type": "A", "ttl": 300, "data": "192.0.2.1"}, "www.example.com", "A",
     "www.example.com. IN A 192.0.2.1"),
    ({"name": "www", "type": "AAAA", "ttl": 300, "data": "2001:db8::1"}, "www.example.com", "AAAA",
     "www.example.com. IN AAAA 2001:db8::1"),
    ({"name": "alias", "type": "CNAME", "ttl": 300, "data": "www.example.com."}, "alias.example.com", "CNAME",
     "alias.example.com. IN CNAME www.example.com."),
    ({"name": "mx", "type": "MX", "ttl": 300, "data": {"preference": 10, "exchange": "mail.example.com."}},
     "mx.example.com", "MX", "mx.example.com. IN MX 10 mail.example.com."),
    ({"name": "ptr", "type": "PTR", "ttl": 300, "data": "target.example.com."}, "ptr.example.com", "PTR",
     "ptr.example.com. IN PTR target.example.com."),
    ({"name": "txt", "type": "TXT", "ttl": 300, "data": "hello world"}, "txt.example.com", "TXT",
     'txt.example.com. IN TXT "hello world"'),
    ({"name": "_sip._tcp", "type": "SRV", "ttl": 300,
      "data": {"priority": 10, "weight": 20, "port": 5060, "target": "sip.example.com."}},
     "_sip._tcp.example.com", "SRV", "_sip._tcp.example.com. IN SRV 10 20 5060 sip.example.com."),
    ({"name": "caa", "type": "CAA", "ttl": 300, "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}},
     "caa.example.com", "CAA", 'caa.example.com. IN CAA 0 issue "letsencrypt.org"'),
]


def undot(v):
    """Data with names compared with or without their final dot."""
    if isinstance(v, dict):
        return {k: undot(x) for k, x in v.items()}
    return v.rstrip(".") if isinstance(v, str) else v


def test_zone_with_records_of_every_type(api):
    a = api.api
    r = a.post("/api/v1/zones", {"name": "example.com", "default_ttl": 300,
                                 "soa": {"mname": "ns1.example.com", "rname": "admin.example.com"}})
    assert r.status == 201, r
    z = r.json()
    assert z["id"] == "example.com" and z["name"] == "example.com" and z["source"] == "api"
    assert z["dynamic"] is False and z["default_ttl"] == 300
    assert z["soa"]["mname"] == "ns1.example.com" and z["soa"]["rname"] == "admin.example.com"
    assert isinstance(z["soa"]["serial"], int)
    for body, *_ in EVERY_TYPE:
        r = a.post("/api/v1/zones/example.com/records", body)
        assert r.status == 201, (body, r)
        rec = r.json()
        assert isinstance(rec["id"], int) and rec["zone"] == "example.com" and rec["type"] == body["type"]
        assert rec["name"] == body["name"] and rec["fqdn"] == f"{body['name']}.example.com" and rec["ttl"] == 300
        assert undot(rec["data"]) == undot(body["data"]), rec
    # An NS below the apex delegates: the referral carries it.
    r = a.post("/api/v1/zones/example.com/records", {"name": "sub", "type": "NS", "ttl": 300,
                                                     "data": "ns1.other.net."})
    assert r.status == 201, r
    wait_for(lambda: api.dig("caa.example.com", "CAA").data() == [EVERY_TYPE[-1][3]], 3, 0.05, "the zone in DNS")
    for _, qname, qtype, want in EVERY_TYPE:
        out = api.dig(qname, qtype, "+norec")
        assert out.status == "NOERROR" and "aa" in out.flags, out
        assert out.data() == [want] and out.ttls() == [300], out
    out = api.dig("sub.example.com", "NS", "+norec")
    assert "sub.example.com. IN NS ns1.other.net." in out.data("answer") + out.data("authority"), out
    out = api.dig("example.com", "SOA")
    soa = out.answer[0].split()
    assert soa[3] == "SOA" and soa[4:6] == ["ns1.example.com.", "admin.example.com."], out
    assert api.dig("nope.example.com").status == "NXDOMAIN"


def test_create_twice_zone_409_record_200_same_id(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "twice.test"}).status == 201
    assert_error(a.post("/api/v1/zones", {"name": "twice.test"}), 409)
    body = {"name": "www", "type": "A", "ttl": 60, "data": "192.0.2.40"}
    r1 = a.post("/api/v1/zones/twice.test/records", body)
    assert r1.status == 201, r1
    r2 = a.post("/api/v1/zones/twice.test/records", body)
    assert r2.status == 200 and r2.json()["id"] == r1.json()["id"], r2
    recs = a.get("/api/v1/zones/twice.test/records?type=A&name=www").json()["records"]
    assert [r["id"] for r in recs] == [r1.json()["id"]]
    assert_error(a.post("/api/v1/zones/twice.test/records", {"name": "x", "type": "A", "data": "1.2.3"}), 400)
    assert_error(a.post("/api/v1/zones/twice.test/records", {"name": "x", "type": "BOGUS", "data": "1.2.3.4"}), 400)
    assert_error(a.post("/api/v1/zones/none.test/records", body), 404)
    assert_error(a.post("/api/v1/zones", {"name": "bad_zone!"}), 400)


def test_ptr_true_creates_the_reverse_record(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "ptr.test"}).status == 201
    assert a.post("/api/v1/zones", {"name": "2.0.192.in-addr.arpa"}).status == 201
    r = a.post("/api/v1/zones/ptr.test/records", {"name": "host", "type": "A", "ttl": 300,
                                                  "data": "192.0.2.55", "ptr": True})
    assert r.status == 201, r
    wait_for(lambda: api.dig("-x", "192.0.2.55").data() == ["55.2.0.192.in-addr.arpa. IN PTR host.ptr.test."],
             3, 0.05, "the PTR")
    assert api.dig("host.ptr.test").values() == ["192.0.2.55"]
    recs = a.get("/api/v1/zones/2.0.192.in-addr.arpa/records?type=PTR").json()["records"]
    assert [x["name"] for x in recs] == ["55"], recs
    assert_error(a.post("/api/v1/zones/ptr.test/records", {"name": "far", "type": "A", "ttl": 300,
                                                           "data": "198.51.100.7", "ptr": True}), 400, "ptr")
    assert a.get("/api/v1/zones/ptr.test/records?name=far").json()["records"] == []


def test_pagination(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "pag.test"}).status == 201
    for i in range(5):
        assert a.post("/api/v1/zones/pag.test/records",
                      {"name": f"h{i}", "type": "A", "ttl": 60, "data": f"192.0.2.{100 + i}"}).status == 201
    full = a.get("/api/v1/zones/pag.test/records").json()
    assert full["offset"] == 0 and full["limit"] == 100 and full["total"] >= 5
    assert len(full["records"]) == full["total"]
    page = a.get("/api/v1/zones/pag.test/records?offset=1&limit=2").json()
    assert page["offset"] == 1 and page["limit"] == 2 and page["total"] == full["total"]
    assert page["records"] == full["records"][1:3]
    assert a.get(f"/api/v1/zones/pag.test/records?offset={full['total']}").json()["records"] == []
    only = a.get("/api/v1/zones/pag.test/records?name=h3").json()
    assert [r["data"] for r in only["records"]] == ["192.0.2.103"] and only["total"] == 1
    assert a.get("/api/v1/zones/pag.test/records?limit=1000").status == 200
    assert_error(a.get("/api/v1/zones/pag.test/records?limit=1001"), 400, "limit")
    zones = a.get("/api/v1/zones?limit=1").json()
    assert len(zones["zones"]) == 1 and zones["total"] >= 2 and zones["limit"] == 1
    all_z = a.get("/api/v1/zones").json()
    assert all_z["total"] == len(all_z["zones"]) and all_z["offset"] == 0
    cfg = [z for z in all_z["zones"] if z["name"] == "service.local"]
    assert cfg and cfg[0]["source"] == "config", all_z


def test_record_get_put_delete(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "crud.test", "default_ttl": 120}).status == 201
    r = a.post("/api/v1/zones/crud.test/records", {"name": "www", "type": "A", "data": "192.0.2.10"})
    assert r.status == 201 and r.json()["ttl"] == 120, r
    rid = r.json()["id"]
    g = a.get(f"/api/v1/zones/crud.test/records/{rid}")
    assert g.status == 200 and g.json() == r.json(), g
    wait_for(lambda: api.dig("www.crud.test").values() == ["192.0.2.10"], 3, 0.05, "www in DNS")
    p = a.put(f"/api/v1/zones/crud.test/records/{rid}", {"name": "www", "type": "A", "ttl": 600, "data": "192.0.2.11"})
    assert p.status == 200, p
    assert p.json()["id"] == rid and p.json()["data"] == "192.0.2.11" and p.json()["ttl"] == 600
    assert a.get(f"/api/v1/zones/crud.test/records/{rid}").json()["data"] == "192.0.2.11"
    wait_for(lambda: api.dig("www.crud.test").answer == ["www.crud.test. 600 IN A 192.0.2.11"], 3, 0.05,
             "the update in DNS")
    assert_error(a.put(f"/api/v1/zones/crud.test/records/{rid}", {"name": "www", "type": "A", "data": "x"}), 400)
    d = a.delete(f"/api/v1/zones/crud.test/records/{rid}")
    assert d.status == 204, d
    assert_error(a.get(f"/api/v1/zones/crud.test/records/{rid}"), 404)
    assert_error(a.delete(f"/api/v1/zones/crud.test/records/{rid}"), 404)
    assert_error(a.get("/api/v1/zones/crud.test/records/999999"), 404)
    wait_for(lambda: api.dig("www.crud.test").status == "NXDOMAIN", 3, 0.05, "www gone from DNS")


def test_soa_serial_grows_with_every_change(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "soa.test"}).status == 201

    def serial():
        out = api.dig("soa.test", "SOA")
        return int(out.answer[0].split()[6]) if out.answer else None

    s0 = wait_for(serial, 3, 0.05, "soa.test in DNS")
    r = a.post("/api/v1/zones/soa.test/records", {"name": "a", "type": "A", "data": "192.0.2.1"})
    assert r.status == 201
    rid = r.json()["id"]
    s1 = wait_for(lambda: (serial() or 0) > s0 and serial(), 3, 0.05, "serial > s0")
    assert a.put(f"/api/v1/zones/soa.test/records/{rid}",
                 {"name": "a", "type": "A", "data": "192.0.2.2"}).status == 200
    s2 = wait_for(lambda: (serial() or 0) > s1 and serial(), 3, 0.05, "serial > s1")
    assert a.delete(f"/api/v1/zones/soa.test/records/{rid}").status == 204
    s3 = wait_for(lambda: (serial() or 0) > s2 and serial(), 3, 0.05, "serial > s2")
    assert a.get("/api/v1/zones/soa.test").json()["soa"]["serial"] == s3


def test_config_zone_is_read_only(api):
    a = api.api
    r = a.get("/api/v1/zones/service.local")
    assert r.status == 200 and r.json()["source"] == "config" and r.json()["dynamic"] is True, r
    assert_error(a.post("/api/v1/zones/service.local/records", {"name": "x", "type": "A", "data": "192.0.2.1"}), 409)
    assert_error(a.delete("/api/v1/zones/service.local"), 409)
    assert_error(a.post("/api/v1/zones", {"name": "service.local"}), 409)
    assert a.get("/api/v1/zones/service.local").status == 200


def test_delete_zone(api):
    a = api.api
    assert a.post("/api/v1/zones", {"name": "del.test"}).status == 201
    assert a.post("/api/v1/zones/del.test/records", {"name": "x", "type": "A", "data": "192.0.2.5"}).status == 201
    wait_for(lambda: api.dig("x.del.test").values() == ["192.0.2.5"], 3, 0.05, "x.del.test in DNS")
    assert a.delete("/api/v1/zones/del.test").status == 204
    assert_error(a.get("/api/v1/zones/del.test"), 404)
    assert_error(a.get("/api/v1/zones/del.test/records"), 404)
    assert_error(a.delete("/api/v1/zones/del.test"), 404)
    wait_for(lambda: api.dig("x.del.test").status in ("REFUSED", "NXDOMAIN"), 3, 0.05, "the zone gone from DNS")
    assert all(z["name"] != "del.test" for z in a.get("/api/v1/zones").json()["zones"])


# ---- several dynamic zones: bulk state, zones, fallbacks --------------------------------------


def test_delete_gives_nxdomain_without_fallback(multi):
    a = multi.api
    assert a.put_service("nx", ["10.4.0.1"], zone="a.local").status == 200
    wait_dns(multi.dns_port, "nx.a.local", ["10.4.0.1"])
    assert a.delete("/v1/services/nx?zone=a.local").status == 204
    wait_for(lambda: multi.dig("nx.a.local").status == "NXDOMAIN", 3, 0.02, "NXDOMAIN")
    out = multi.dig("nx.a.local")
    assert "aa" in out.flags and out.authority and out.authority[0].split()[3] == "SOA", out


def test_fallback_list_answers_a_and_aaaa(multi):
    out = multi.dig("unknown.b.local", "A")
    assert out.status == "NOERROR" and out.values() == ["10.0.0.2"], out
    out = multi.dig("unknown.b.local", "AAAA")
    assert out.status == "NOERROR" and out.values() == ["fd00::2"], out
    assert multi.dig("unknown.a.local").status == "NXDOMAIN"


def test_short_name_needs_zone_with_several_dynamic_zones(multi):
    a = multi.api
    assert_error(a.put_service("amb", ["10.4.1.1"]), 400, "zone")
    assert_error(a.get("/v1/services/amb"), 400, "zone")
    r = a.put_service("amb.b.local", ["10.4.1.2"])
    assert r.status == 200 and r.json()["zone"] == "b.local", r
    assert a.get("/v1/services/amb?zone=b.local").json()["records"] == ["10.4.1.2"]
    assert a.put_service("amb", ["10.4.1.1"], zone="c.local").status in (400, 404)  # not a dynamic zone


def test_no_leakage_between_dynamic_zones(multi):
    a = multi.api
    assert a.put_service("x", ["10.9.0.1"], zone="a.local").status == 200
    assert a.put_service("x", ["10.9.0.2"], zone="b.local").status == 200
    wait_dns(multi.dns_port, "x.a.local", ["10.9.0.1"])
    wait_dns(multi.dns_port, "x.b.local", ["10.9.0.2"])
    ja = a.get("/v1/services?zone=a.local").json()
    jb = a.get("/v1/services?zone=b.local").json()
    assert ja["zone"] == "a.local" and ja["services"]["x"]["records"] == ["10.9.0.1"]
    assert jb["zone"] == "b.local" and jb["services"]["x"]["records"] == ["10.9.0.2"]
    assert a.get("/v1/services/x.b.local").json()["records"] == ["10.9.0.2"]
    assert a.delete("/v1/services/x?zone=a.local").status == 204
    wait_for(lambda: multi.dig("x.a.local").status == "NXDOMAIN", 3, 0.02, "x.a.local gone")
    assert multi.dig("x.b.local").values() == ["10.9.0.2"]
    assert "x" in a.get("/v1/services?zone=b.local").json()["services"]


def test_bulk_state_replaces_the_zone(multi):
    a = multi.api
    assert a.put_service("keep-b", ["10.5.9.9"], zone="b.local").status == 200
    r = a.put("/v1/state?zone=a.local", {"services": {
        "one": {"type": "A", "records": ["10.5.0.1"], "ttl": 5},
        "two": {"type": "AAAA", "records": ["2001:db8::2"], "ttl": 6}}})
    assert r.status == 200 and r.json() == {"zone": "a.local", "count": 2}, r
    wait_dns(multi.dns_port, "one.a.local", ["10.5.0.1"])
    wait_dns(multi.dns_port, "two.a.local", ["2001:db8::2"], qtype=28)
    r = a.put("/v1/state?zone=a.local", {"services": {"three": {"type": "A", "records": ["10.5.0.3"]}}})
    assert r.status == 200 and r.json() == {"zone": "a.local", "count": 1}, r
    assert set(a.get("/v1/services?zone=a.local").json()["services"]) == {"three"}
    assert_error(a.get("/v1/services/one?zone=a.local"), 404)
    wait_dns(multi.dns_port, "three.a.local", ["10.5.0.3"])
    assert multi.dig("one.a.local").status == "NXDOMAIN" and multi.dig("two.a.local", "AAAA").status == "NXDOMAIN"
    # Another zone is untouched.
    assert a.get("/v1/services/keep-b?zone=b.local").json()["records"] == ["10.5.9.9"]


def test_bulk_state_with_one_bad_entry_changes_nothing(multi):
    a = multi.api
    good = {"type": "A", "records": ["10.5.1.1"]}
    assert a.put("/v1/state?zone=a.local", {"services": {"before": good}}).status == 200
    for bad, field in (({"type": "A", "records": ["10.5.1.300"]}, "records"), ({"type": "MX", "records": ["10.5.1.2"]}, "type"),
                       ({"type": "A", "records": []}, "records")):
        r = a.put("/v1/state?zone=a.local", {"services": {"new1": good, "zz-bad": bad}})
        assert_error(r, 400)
    assert_error(a.put("/v1/state?zone=a.local", {"services": {"bad_name": good}}), 400)
    assert_error(a.put("/v1/state?zone=a.local", "{broken"), 400)
    assert set(a.get("/v1/services?zone=a.local").json()["services"]) == {"before"}
    wait_dns(multi.dns_port, "before.a.local", ["10.5.1.1"])
    assert multi.dig("new1.a.local").status == "NXDOMAIN"


def test_bulk_state_with_short_and_full_names(multi):
    a = multi.api
    r = a.put("/v1/state?zone=a.local", {"services": {
        "short": {"type": "A", "records": ["10.5.2.1"]},
        "Full.A.Local": {"type": "A", "records": ["10.5.2.2"]}}})
    assert r.status == 200 and r.json()["count"] == 2, r
    svcs = a.get("/v1/services?zone=a.local").json()["services"]
    assert set(svcs) == {"short", "full"}, svcs
    assert a.get("/v1/services/full.a.local").json()["zone"] == "a.local"
    wait_dns(multi.dns_port, "full.a.local", ["10.5.2.2"])
    wait_dns(multi.dns_port, "short.a.local", ["10.5.2.1"])


def test_bulk_state_of_200_services(multi):
    a = multi.api
    services = {f"s{i:03d}": {"type": "A", "records": [f"10.6.{i // 200}.{i % 200 + 1}"], "ttl": 30}
                for i in range(200)}
    r = a.put("/v1/state?zone=a.local", {"services": services})
    assert r.status == 200 and r.json() == {"zone": "a.local", "count": 200}, r
    assert len(a.get("/v1/services?zone=a.local").json()["services"]) == 200
    wait_dns(multi.dns_port, "s199.a.local", services["s199"]["records"])
    c = UdpClient(multi.dns_port)
    try:
        answers = {n: c.ask(f"{n}.a.local") for n in services}
        wrong = {n: r for n, r in answers.items() if r != (0, services[n]["records"])}
    finally:
        c.close()
    assert not wrong, list(wrong.items())[:5]


# ---- servers with their own options ---------------------------------------------------------


def test_rate_limit_writes_only(dnsbox):
    srv = own(dnsbox, api_options="\toption rate_limit '5'\n").start()
    statuses, limited = [], []
    for i in range(20):
        r = srv.api.put_service(f"rl{i}", ["10.7.0.1"])
        statuses.append(r.status)
        if r.status == 429:
            limited.append(r)
    assert statuses.count(200) >= 3 and limited, statuses
    assert set(statuses) <= {200, 429}, statuses
    for r in limited:
        assert_error(r, 429)
        assert r.header("retry-after") and int(r.header("retry-after")) >= 1, r
    for _ in range(30):  # reads are never limited
        assert srv.api.get("/v1/services").status == 200
    time.sleep(1.5)
    r = srv.api.put_service("rl-after", ["10.7.0.2"])
    assert r.status == 200, r


def test_slow_loris_does_not_block_and_is_timed_out(dnsbox):
    srv = own(dnsbox, api_options="\toption timeout '2s'\n\toption max_connections '64'\n").start()
    stalled = []
    t_sent = time.monotonic()
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        stalled.append(s)
    try:
        t0 = time.monotonic()
        r = srv.api.get("/api/v1/health", timeout=3)
        assert r.status == 200 and time.monotonic() - t0 < 0.5, (r, time.monotonic() - t0)
        closed_after = []
        for s in stalled:
            s.settimeout(max(0.1, t_sent + 6 - time.monotonic()))
            try:
                while s.recv(4096):
                    pass
            except socket.timeout:
                closed_after.append(None)
                continue
            except ConnectionResetError:
                pass
            closed_after.append(time.monotonic() - t_sent)
        assert None not in closed_after, f"stalled connections still open after 6 s: {closed_after}"
        assert min(closed_after) >= 1.5, closed_after
        assert srv.api.get("/api/v1/health").status == 200
    finally:
        for s in stalled:
            s.close()


def test_max_connections(dnsbox):
    srv = own(dnsbox, api_options="\toption max_connections '4'\n\toption timeout '10s'\n").start()
    # The readiness check's connection is gone on the server's side too.
    wait_for(lambda: dnsbox.status("apictl").get("apictl", {}).get("connections") == "0", 5, 0.02, "no connections")
    idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(4)]
    try:
        time.sleep(0.3)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
        t0 = time.monotonic()
        try:
            s.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            r = read_response(s)
        except socket.timeout:
            raise AssertionError("the connection over max_connections was neither served nor closed in 3 s")
        finally:
            s.close()
        assert r is None or r.status == 503, r
        assert time.monotonic() - t0 < 1.0
    finally:
        for c in idle:
            c.close()
    wait_for(lambda: srv.api.get("/api/v1/health").status == 200, 3, 0.05, "a slot again")


def test_disallowed_client_is_403_before_auth(dnsbox, netns):
    need_tool("curl")
    srv_ns, cli_ns = netns.add("s"), netns.add("c")
    netns.link(srv_ns, "a0", "10.77.0.1/24", cli_ns, "b0", "10.77.0.2/24")
    srv = own(dnsbox, dns=False, listen="10.77.0.1:8080",
              api_options="\tlist allow '127.0.0.0/8'\n", wrap=["ip", "netns", "exec", srv_ns])
    srv.start(wait=False)

    def curl(ns, *args):
        r = netns.exec(ns, "curl", "-s", "-m", "3", "-w", "\n%{http_code}", *args,
                       "http://10.77.0.1:8080/api/v1/health", check=False)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body

    def up():
        assert srv.apictl.poll() is None, dnsbox.log("apictl")
        return curl(cli_ns)[0] != 0
    wait_for(up, 10, 0.1, "apictl in the namespace")
    for auth in ([], ["-H", f"Authorization: Bearer {TOKEN}"], ["-H", "Authorization: Bearer wrong"]):
        code, body = curl(cli_ns, *auth)
        assert code == 403 and "error" in json.loads(body), (auth, code, body)
    # The same server from an allowed source (loopback) in its own namespace.
    code, body = curl(srv_ns, "--interface", "127.0.0.1", "-H", f"Authorization: Bearer {TOKEN}")
    assert code == 200 and json.loads(body)["status"] == "ok", (code, body)
    code, _ = curl(srv_ns, "--interface", "127.0.0.1")
    assert code == 401


@pytest.mark.parametrize("form", ["$DNSBOX_TEST_TOKEN", "{env.DNSBOX_TEST_TOKEN}"])
def test_token_from_the_environment(dnsbox, form):
    srv = own(dnsbox, dns=False, token=form, env={"DNSBOX_TEST_TOKEN": "from-env-71"})
    srv.api.token = "from-env-71"
    srv.start()
    assert srv.api.get("/api/v1/health").status == 200
    assert_error(srv.api.get("/api/v1/health", token=form), 401)


def test_listen_on_ipv6_loopback(dnsbox):
    port = free_port("::1")
    srv = own(dnsbox, dns=False, listen=f"[::1]:{port}")
    srv.api = Api(port, host="::1")
    srv.start()
    r = srv.api.put_service("six", ["10.0.19.1"])
    assert r.status == 200 and r.json()["records"] == ["10.0.19.1"], r
    assert_error(srv.api.get("/v1/services", token=None), 401)


def test_restart_keeps_every_kind_of_state(dnsbox):
    srv = own(dnsbox).start()
    a = srv.api
    assert a.put_service("p1", ["10.8.0.1", "10.8.0.2"], ttl=42).status == 200
    assert a.put_service("p2", ["2001:db8::42"], type="AAAA").status == 200
    assert a.post("/v1/services/p3/records", {"records": ["10.8.0.3"]}).status == 200
    assert a.post("/api/v1/zones", {"name": "keep.test", "default_ttl": 90}).status == 201
    assert a.post("/api/v1/zones/keep.test/records", {"name": "www", "type": "A", "data": "192.0.2.90"}).status == 201
    wait_dns(srv.dns_port, "p3.service.local", ["10.8.0.3"])
    before = (a.get("/v1/services").json(), a.get("/api/v1/zones/keep.test/records").json(),
              a.get("/api/v1/zones/keep.test").json())
    dns_before = [srv.dig(*q).data() for q in (("p1.service.local",), ("p2.service.local", "AAAA"),
                                                ("www.keep.test",))]
    srv.stop()
    srv.start()
    after = (a.get("/v1/services").json(), a.get("/api/v1/zones/keep.test/records").json(),
             a.get("/api/v1/zones/keep.test").json())
    assert after == before
    assert [srv.dig(*q).data() for q in (("p1.service.local",), ("p2.service.local", "AAAA"),
                                         ("www.keep.test",))] == dns_before
    assert dns_before[0] == ["p1.service.local. IN A 10.8.0.1", "p1.service.local. IN A 10.8.0.2"]


def test_acknowledged_write_survives_kill_9(dnsbox):
    srv = own(dnsbox).start()
    for i in range(3):
        r = srv.api.put_service("durable", [f"10.8.1.{i + 1}"])
        assert r.status == 200
    r = srv.api.put("/v1/state", {"services": {"durable": {"type": "A", "records": ["10.8.1.9"]},
                                               "other": {"type": "A", "records": ["10.8.1.10"]}}})
    assert r.status == 200
    r = srv.api.post("/v1/services/last/records", {"records": ["10.8.1.11"]})
    assert r.status == 200, r
    srv.apictl.kill()  # right after the 200
    srv.dnsd.kill()
    srv.apictl.wait()
    srv.dnsd.wait()
    srv.start()
    got = srv.api.get("/v1/services").json()["services"]
    assert {k: v["records"] for k, v in got.items()} == {"durable": ["10.8.1.9"], "other": ["10.8.1.10"],
                                                         "last": ["10.8.1.11"]}
    wait_dns(srv.dns_port, "last.service.local", ["10.8.1.11"])
    assert srv.dig("durable.service.local").values() == ["10.8.1.9"]


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


def _raw(port: int, data: bytes, half_close: bool = True, timeout: float = 5) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def test_pipelined_requests_after_a_write_are_answered_on_half_close(api):
    body = json.dumps({"type": "A", "records": ["10.0.45.1"]}).encode()
    req = (f"PUT /v1/services/piped HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    req += f"GET /v1/services/piped HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    out = _raw(api.port, req)
    assert out.count(b"HTTP/1.1 ") == 2 and out.count(b"HTTP/1.1 200 OK\r\n") == 2, out
    assert out.count(b'"records":["10.0.45.1"]') == 2, out


def test_a_refused_head_is_answered_before_its_body(api):
    # 5 MB announced, nothing sent: the missing token is answered at once.
    s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
    try:
        s.sendall(b"PUT /v1/state HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        t0 = time.monotonic()
        got = s.recv(65536)
        assert got.startswith(b"HTTP/1.1 401 "), got
        assert time.monotonic() - t0 < 2
    finally:
        s.close()
    # With the token, a body larger than the route allows is refused the same way.
    s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
    try:
        s.sendall(f"PUT /v1/services/x HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 2000000\r\n\r\n".encode())
        got = s.recv(65536)
        assert got.startswith(b"HTTP/1.1 413 "), got
    finally:
        s.close()


def test_a_client_that_never_reads_does_not_grow_the_server(api):
    """Pipelined GETs from a client that never reads: the server stops reading
    it once its unsent answers pass a bound, so its memory stays flat."""
    pid = api.apictl.pid

    def rss_kib() -> int:
        with open(f"/proc/{pid}/status") as f:
            return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])

    before = rss_kib()
    s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    req = f"GET /v1/services HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode() * 1000
    sent = 0
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline and sent < 200 * len(req):
            try:
                sent += s.send(req)
            except BlockingIOError:
                time.sleep(0.01)
        # What the server holds for it is bounded (64 KB read ahead, 256 KB
        # of answers); the rest waits in the kernel's socket buffers.
        assert sent > 0
        assert rss_kib() - before < 8 * 1024, (before, rss_kib(), sent)
        # Others are still served.
        assert api.api.get("/api/v1/health").status == 200
    finally:
        s.close()
