"""apictl, the HTTP API: dynresolve-compatible services (/v1), zones and
records (/api/v1), health, leases and /metrics, its command-line client and
CGI mode under lighttpd, always against a real dnsd sharing the store.

`dnsbox dnsd -c CONF` and `dnsbox apictl serve` (config from $DNSBOX_CONFIG)
run as two processes on one config; requests go through http.client (raw
sockets where the request itself is malformed), answers through dig and a
small raw UDP client (client.py). Most tests share one server pair for this
whole folder (the package-scoped fixtures here: `api`: one dynamic zone with a
fallback; `multi`: two dynamic zones), each test with its own names; what
needs its own options, a restart or a kill gets its own pair (`own`).
"""
from __future__ import annotations

import pytest

from api.client import ApiServer
from helpers import Dnsbox, need_tool


def _shared_server(dnsbox_bin, tmp_path_factory, name, **kw):
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


@pytest.fixture(scope="package")
def api(dnsbox_bin, tmp_path_factory):
    srv, d = _shared_server(dnsbox_bin, tmp_path_factory, "api",
                            api_options="\toption rate_limit '0'\n\toption audit '1'\n\tlist allow '127.0.0.0/8'\n")
    yield srv
    d.stop_all()


ZONES_MULTI = ("config zone\n\toption name 'a.local'\n\toption dynamic '1'\n"
               "config zone\n\toption name 'b.local'\n\toption dynamic '1'\n"
               "\tlist fallback '10.0.0.2'\n\tlist fallback 'fd00::2'\n")


@pytest.fixture(scope="package")
def multi(dnsbox_bin, tmp_path_factory):
    srv, d = _shared_server(dnsbox_bin, tmp_path_factory, "multi", api_options="\toption rate_limit '0'\n",
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
