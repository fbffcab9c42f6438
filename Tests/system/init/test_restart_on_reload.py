"""A reload that a running applet cannot apply in place (BIRD's rule): dnsd
says a changed listen address needs a restart, exits to apply it, and init
starts it again at once, without the crash backoff, and says why."""
import subprocess
import time

import pytest

from helpers import exec_prefix, free_port, need_tool, wait_for

pytestmark = pytest.mark.skipif(bool(exec_prefix()), reason="init re-executes itself; not under a user-mode emulator")

ZONE = "config zone\n\toption name 'home.lan'\nconfig record\n\toption zone 'home.lan'\n\toption name 'nas'\n" \
       "\toption type 'A'\n\toption value '192.168.1.10'\n"


def dnsd_pid(dnsbox) -> int | None:
    pid = dnsbox.status("init").get("dnsd", {}).get("pid", "-")
    return int(pid) if pid.isdigit() else None


def answer(port: int) -> str:
    return subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=1", "+tries=1", "+short", "nas.home.lan"],
                          capture_output=True, text=True, timeout=10).stdout.strip()


def test_a_listen_change_restarts_dnsd_through_init(dnsbox):
    need_tool("dig")
    first, second = free_port(), free_port()
    dnsbox.write_config(f"config dnsd 'main'\n\tlist listen '127.0.0.1:{first}'\n\toption workers '1'\n" + ZONE)
    init = dnsbox.start("init", "-c", str(dnsbox.config_path), name="init")
    dnsbox.wait_ready("init")
    wait_for(lambda: answer(first) == "192.168.1.10", 10, 0.1, "dnsd on the first port")
    old = dnsd_pid(dnsbox)
    # A change dnsd applies in place: no restart.
    dnsbox.write_config(f"config dnsd 'main'\n\tlist listen '127.0.0.1:{first}'\n\toption workers '1'\n"
                        "\toption version 'v2'\n" + ZONE)
    assert dnsbox.ctl("dnsd", "reload").stdout.strip() == "ok reloaded"
    assert dnsd_pid(dnsbox) == old
    # A new listen address: dnsd answers that it restarts, and exits for it.
    dnsbox.write_config(f"config dnsd 'main'\n\tlist listen '127.0.0.1:{second}'\n\toption workers '1'\n" + ZONE)
    t0 = time.monotonic()
    r = dnsbox.ctl("dnsd", "reload")
    assert r.stdout.startswith("restart: option listen changed"), r.stdout
    wait_for(lambda: answer(second) == "192.168.1.10", 5, 0.05, "dnsd on the new port")
    assert time.monotonic() - t0 < 3, "restarted without the crash backoff"
    new = dnsd_pid(dnsbox)
    assert new and new != old
    assert "dnsd exited to apply a config change; restarting" in dnsbox.log("init")
    assert "option listen changed: restarting to apply the new config" in dnsbox.log("init")
    assert dnsbox.status("init")["dnsd"]["restarts"] == "1"
    assert init.poll() is None
