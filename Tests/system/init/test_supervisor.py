"""init as a supervisor: starts enabled applets, restarts crashes with backoff,
reloads on SIGHUP, stops everything on SIGTERM, and reaps zombies as PID 1."""
import os
import signal
import subprocess
import time

import pytest

from helpers import exec_prefix, need_root, need_tool, wait_for

pytestmark = pytest.mark.skipif(bool(exec_prefix()), reason="init re-executes itself; not under a user-mode emulator")

IDLE = "config idle 'main'\n\toption enabled '1'\n"


def idle_pid(dnsbox) -> int | None:
    st = dnsbox.status("init").get("idle", {})
    pid = st.get("pid", "-")
    return int(pid) if pid.isdigit() else None


def start_init(dnsbox, body=IDLE):
    dnsbox.write_config(body)
    p = dnsbox.start("init", "-c", str(dnsbox.config_path), name="init")
    dnsbox.wait_ready("init")
    return p


def test_init_starts_enabled_applets_and_creates_state(dnsbox):
    init = start_init(dnsbox, IDLE + "config rad 'main'\n\toption enabled '1'\n")
    dnsbox.wait_ready("idle")
    pid = wait_for(lambda: idle_pid(dnsbox), what="idle pid")
    assert os.readlink(f"/proc/{pid}/exe") == str(dnsbox.binary)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"idle"
    # The database directory was created (0750) and migrated before children started.
    assert dnsbox.database.exists()
    assert (dnsbox.database.parent.stat().st_mode & 0o777) == 0o750
    r = dnsbox.run("db", "-c", str(dnsbox.config_path), "info")
    assert "schema_version: 7" in r.stdout
    # An enabled applet that is not in this build is reported, not started.
    assert "rad is enabled in the config but not yet available" in dnsbox.log("init")
    assert "rad" not in dnsbox.status("init")
    assert init.poll() is None


def test_killed_child_comes_back_with_backoff(dnsbox):
    init = start_init(dnsbox)
    first = wait_for(lambda: idle_pid(dnsbox), what="idle pid")
    t0 = time.monotonic()
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: (p := idle_pid(dnsbox)) and p != first and p, timeout=5, what="idle restarted")
    dt1 = time.monotonic() - t0
    dnsbox.wait_ready("idle")
    # A second quick crash waits about twice as long (0.5 s, then 1 s).
    t1 = time.monotonic()
    os.kill(second, signal.SIGKILL)
    third = wait_for(lambda: (p := idle_pid(dnsbox)) and p != second and p, timeout=6, what="idle restarted again")
    dt2 = time.monotonic() - t1
    assert 0.4 <= dt1 < 3.0
    assert dt2 >= 0.9 and dt2 > dt1
    assert dnsbox.status("init")["idle"]["restarts"] == "2"
    assert "killed by SIGKILL" in dnsbox.log("init")
    assert init.poll() is None and third


def test_sigterm_stops_children_within_the_deadline(dnsbox):
    init = start_init(dnsbox)
    child = wait_for(lambda: idle_pid(dnsbox), what="idle pid")
    t0 = time.monotonic()
    init.send_signal(signal.SIGTERM)
    assert init.wait(timeout=12) == 0
    assert time.monotonic() - t0 < 10
    assert not os.path.exists(f"/proc/{child}") or open(f"/proc/{child}/stat").read().split(") ")[1][0] == "Z"
    assert not (dnsbox.rundir / "init.sock").exists()
    assert not (dnsbox.rundir / "idle.sock").exists()


def test_sighup_reloads_children_and_a_broken_config_keeps_the_old(dnsbox):
    init = start_init(dnsbox)
    dnsbox.wait_ready("idle")
    pid = idle_pid(dnsbox)
    init.send_signal(signal.SIGHUP)
    wait_for(lambda: dnsbox.status("idle").get("idle", {}).get("reloads") == "1", what="idle reloaded")
    assert idle_pid(dnsbox) == pid  # reload, not restart
    # A broken file: init keeps the previous config and keeps supervising.
    good = dnsbox.config_path.read_text()
    dnsbox.config_path.write_text(good + "config idle 'main'\n\toption enabeld '1'\n")
    r = dnsbox.ctl("init", "reload")
    assert r.returncode == 1 and f"{dnsbox.config_path}:" in r.stdout and "did you mean 'enabled'" in r.stdout
    r = dnsbox.ctl("idle", "reload")
    assert r.returncode == 1 and "enabeld" in r.stdout
    assert idle_pid(dnsbox) == pid
    # Disabling the applet stops it.
    dnsbox.config_path.write_text(good.replace("option enabled '1'", "option enabled '0'"))
    init.send_signal(signal.SIGHUP)
    wait_for(lambda: "idle" not in dnsbox.status("init"), what="idle stopped after reload")
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split(") ")[1][:1],
             what="idle process gone")
    assert init.poll() is None


def test_reload_that_enables_an_applet_starts_it_and_it_stays_up(dnsbox):
    init = start_init(dnsbox, "config idle 'main'\n\toption enabled '0'\n")
    assert "idle" not in dnsbox.status("init")
    dnsbox.config_path.write_text(dnsbox.config_path.read_text().replace("option enabled '0'", "option enabled '1'"))
    init.send_signal(signal.SIGHUP)
    dnsbox.wait_ready("idle")
    pid = idle_pid(dnsbox)
    # The reload's SIGHUP must not hit (and kill) the child it just started.
    time.sleep(0.7)
    assert idle_pid(dnsbox) == pid
    assert dnsbox.status("init")["idle"]["restarts"] == "0"
    assert "killed by SIGHUP" not in dnsbox.log("init")
    # Disable and re-enable in quick succession: it must end up running.
    text = dnsbox.config_path.read_text()
    dnsbox.config_path.write_text(text.replace("option enabled '1'", "option enabled '0'"))
    init.send_signal(signal.SIGHUP)
    time.sleep(0.05)
    dnsbox.config_path.write_text(text)
    init.send_signal(signal.SIGHUP)
    wait_for(lambda: (p := idle_pid(dnsbox)) is not None and dnsbox.ctl("idle", "ping").stdout.strip() == "pong",
             timeout=8, what="idle running after disable+enable")
    assert init.poll() is None


def test_a_second_init_does_not_steal_the_first_ones_sockets(dnsbox):
    first = start_init(dnsbox)
    dnsbox.wait_ready("idle")
    r = dnsbox.run("init", "-c", str(dnsbox.config_path), timeout=10)
    assert r.returncode == 1
    assert "another instance is running" in r.stderr
    assert dnsbox.ctl("init", "ping").stdout.strip() == "pong"
    assert dnsbox.ctl("idle", "ping").stdout.strip() == "pong"
    assert first.poll() is None


def test_rundir_change_on_reload_waits_for_a_restart(dnsbox):
    init = start_init(dnsbox)
    dnsbox.wait_ready("idle")
    dnsbox.config_path.write_text(dnsbox.config_path.read_text().replace(str(dnsbox.rundir), str(dnsbox.rundir) + "2"))
    init.send_signal(signal.SIGHUP)
    wait_for(lambda: "takes effect after a restart" in dnsbox.log("init"), what="restart-only warning")
    # ctl follows the file (new rundir): the old sockets must still be where the processes are.
    assert (dnsbox.rundir / "init.sock").exists() and (dnsbox.rundir / "idle.sock").exists()
    assert init.poll() is None


def test_broken_config_starts_nothing(dnsbox):
    dnsbox.config_path.write_text("config idle 'main'\n\toption enabled 'maybe'\n")
    r = dnsbox.run("init", "-c", str(dnsbox.config_path), timeout=10)
    assert r.returncode == 1
    assert f"{dnsbox.config_path}:2:9" in r.stderr
    assert not dnsbox.rundir.exists()


def test_unopenable_database_is_a_clear_startup_error(dnsbox, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    dnsbox.write_config(IDLE)
    text = dnsbox.config_path.read_text().replace(str(dnsbox.database), str(blocker / "db" / "x.db"))
    dnsbox.config_path.write_text(text)
    r = dnsbox.run("init", "-c", str(dnsbox.config_path), timeout=10)
    assert r.returncode == 1
    assert "cannot open the store" in r.stderr and str(blocker) in r.stderr


def test_init_as_pid1_reaps_orphans(dnsbox):
    """In a fresh PID namespace init is PID 1: orphans re-parented to it must be reaped."""
    need_root()
    need_tool("unshare")
    need_tool("nsenter")
    dnsbox.write_config(IDLE)
    init = dnsbox.start("init", "-c", str(dnsbox.config_path), name="init",
                        wrap=["unshare", "--pid", "--fork", "--kill-child"])
    dnsbox.wait_ready("init")
    st = dnsbox.status("init")["init"]
    assert st["pid"] == "1"
    # The host-side PID of the namespace's PID 1 (unshare's child).
    ns_init = int(subprocess.run(["pgrep", "-P", str(init.pid)], capture_output=True, text=True).stdout.split()[0])
    # Make orphans inside the namespace: sh starts sleeps and exits at once.
    subprocess.run(["nsenter", "-t", str(ns_init), "-p", "--", "sh", "-c",
                    "for i in 1 2 3 4 5; do sleep 0.3 & done; exit 0"], check=True)

    def zombies():
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                stat = open(f"/proc/{pid}/stat").read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[1] == str(ns_init) and fields[0] == "Z":
                out.append(pid)
        return out

    def sleepers():
        return [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) == ns_init and _comm(p) == "sleep"]

    wait_for(lambda: len(sleepers()) == 5 or not sleepers(), timeout=2, what="orphans adopted by init")
    time.sleep(0.6)
    assert zombies() == []
    assert sleepers() == []
    # Stopping the namespace's init stops its children too.
    os.kill(ns_init, signal.SIGTERM)
    init.wait(timeout=15)


def _parent(pid: str) -> int:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _comm(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return ""
