"""Helpers of the apictl tests: an HTTP client (http.client, raw sockets where
the request itself is malformed), dig and a small raw UDP client for the
answers, and `ApiServer`: dnsd and `apictl serve` on one config.

The shared server pairs (`api`, `multi`) are fixtures in conftest.py beside
this file.
"""
from __future__ import annotations

import http.client
import json
import re
import select
import signal
import socket
import struct
import subprocess

from helpers import Dnsbox, free_port, need_tool, section, wait_for

TOKEN = "test-token-5e3a"

# ---- HTTP ----------------------------------------------------------------


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


def own(dnsbox, **kw) -> ApiServer:
    need_tool("dig")
    return ApiServer(dnsbox, **kw)
