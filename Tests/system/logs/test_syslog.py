"""log_target 'syslog': one datagram per line to /dev/log with the priority,
the applet's name and pid, as syslogd, busybox syslogd and OpenWrt's logd
read them. /dev/log is a socket of the test's, mounted in a private mount
namespace, so the host's logger never sees anything."""
import os
import socket
import subprocess

from helpers import exec_prefix, need_root, need_tool, wait_for


def test_lines_reach_dev_log_with_priority_ident_and_pid(dnsbox, tmp_path):
    need_root()
    need_tool("unshare")
    sock_path = tmp_path / "log.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(sock_path))
    s.settimeout(0.2)
    dnsbox.write_config("config idle 'main'\n")
    cfg = dnsbox.config_path.read_text().replace("\toption log_level 'debug'\n",
                                                 "\toption log_level 'info'\n\toption log_target 'syslog'\n")
    dnsbox.config_path.write_text(cfg)
    argv = " ".join([*exec_prefix(), str(dnsbox.binary), "idle", "-c", str(dnsbox.config_path)])
    script = ("mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && touch /dev/log && "
              f"mount --bind {sock_path} /dev/log && exec {argv}")
    p = dnsbox.start(name="idle", wrap=["unshare", "-m", "--propagation", "private", "sh", "-c", script, "--"])
    got: list[str] = []

    def ready():
        try:
            got.append(s.recv(4096).decode())
        except socket.timeout:
            pass
        return any("ready" in g for g in got)

    wait_for(ready, 10, 0.01, "the ready line on /dev/log")
    line = next(g for g in got if "ready" in g)
    # <30> = facility daemon (3) * 8 + info (6).
    assert line.startswith(f"<30>idle[{p.pid}]: "), line
    assert "config=" in line
    # Nothing went to stderr.
    assert "ready" not in dnsbox.log("idle")
    p.terminate()
    p.wait(timeout=10)
    s.close()
