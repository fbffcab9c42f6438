"""HTTP protocol edges of apictl: unknown routes and methods, chunked or
missing Content-Length, oversized bodies and heads, keep-alive, pipelining,
heads refused before their bodies, clients that never read.
"""
from __future__ import annotations

import http.client
import json
import socket
import time

from api.client import TOKEN, _resp, assert_error, raw_http


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
