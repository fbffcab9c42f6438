"""Applets drop to the configured user and keep only their declared capabilities."""
import os
import shutil
import stat
import tempfile

from helpers import need_root


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def test_idle_runs_as_nobody_without_capabilities(dnsbox):
    need_root()
    # A world-readable place: the config must stay readable after the switch (for reload).
    base = tempfile.mkdtemp(prefix="dnsbox-priv-")
    try:
        os.chmod(base, 0o755)
        conf = os.path.join(base, "dnsbox.conf")
        with open(conf, "w") as f:
            f.write(f"config dnsbox 'main'\n\toption database '{base}/db/x.db'\n\toption rundir '{base}/run'\n"
                    "\toption user 'nobody'\nconfig idle 'main'\n")
        os.chmod(conf, 0o644)
        dnsbox.config_path = type(dnsbox.config_path)(conf)
        p = dnsbox.start("idle", "-c", conf, name="idle")
        dnsbox.wait_ready("idle")
        st = proc_status(p.pid)
        nobody = shutil.os.popen("id -u nobody").read().strip()
        assert st["Uid"].split() == [nobody] * 4
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        assert int(st["CapBnd"], 16) == 0  # bounding set trimmed too
        # Still answers and still reloads as nobody.
        assert dnsbox.ctl("idle", "reload").stdout.startswith("ok")
        sock = os.path.join(base, "run", "idle.sock")
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
    finally:
        dnsbox.stop_all()
        shutil.rmtree(base, ignore_errors=True)


def test_unknown_user_is_a_clear_error(dnsbox):
    need_root()
    dnsbox.write_config("config idle 'main'\n")
    dnsbox.config_path.write_text(dnsbox.config_path.read_text().replace(
        "config idle", "\toption user 'no_such_user_here'\nconfig idle"))
    r = dnsbox.run("idle", "-c", str(dnsbox.config_path), timeout=10)
    assert r.returncode == 1
    assert "no_such_user_here" in r.stderr
