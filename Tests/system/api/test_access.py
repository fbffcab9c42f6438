"""Who may use apictl and how much: the token (required everywhere, from the
environment), the allow list (from a network namespace), the listen address,
and the limits (write rate, slow clients, connections).
"""
from __future__ import annotations

import json
import socket
import time

import pytest

from api.client import TOKEN, Api, assert_error, own, read_response
from helpers import free_port, need_tool, wait_for


# ---- token and allow list --------------------------------------------------


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


@pytest.mark.parametrize("form", ["$DNSBOX_TEST_TOKEN", "{env.DNSBOX_TEST_TOKEN}"])
def test_token_from_the_environment(dnsbox, form):
    srv = own(dnsbox, dns=False, token=form, env={"DNSBOX_TEST_TOKEN": "from-env-71"})
    srv.api.token = "from-env-71"
    srv.start()
    assert srv.api.get("/api/v1/health").status == 200
    assert_error(srv.api.get("/api/v1/health", token=form), 401)


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


def test_listen_on_ipv6_loopback(dnsbox):
    port = free_port("::1")
    srv = own(dnsbox, dns=False, listen=f"[::1]:{port}")
    srv.api = Api(port, host="::1")
    srv.start()
    r = srv.api.put_service("six", ["10.0.19.1"])
    assert r.status == 200 and r.json()["records"] == ["10.0.19.1"], r
    assert_error(srv.api.get("/v1/services", token=None), 401)


# ---- limits ----------------------------------------------------------------


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
