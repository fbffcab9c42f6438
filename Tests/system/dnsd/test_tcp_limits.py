"""dnsd's TCP listener when descriptors run out (EMFILE): it pauses
accepting instead of spinning on a listener that stays readable, keeps
answering UDP, and takes new connections again once descriptors are free."""
import os
import socket
import time

from dnsd.authoritative import ZONE, dig, free_port
from helpers import need_tool, wait_for


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_the_listener_pauses_and_resumes(dnsbox, tmp_path):
    need_tool("dig")
    need_tool("prlimit")
    (tmp_path / "example.com.zone").write_text(ZONE)
    port = free_port()
    dnsbox.write_config(
        "config dnsd 'main'\n"
        f"\tlist listen '127.0.0.1:{port}'\n"
        "\toption workers '1'\n"
        "\toption tcp_max_connections '1000'\n"
        "\toption tcp_idle_timeout '60s'\n"
        "config zone\n\toption name 'example.com'\n"
        f"\toption file '{tmp_path / 'example.com.zone'}'\n")
    p = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd", wrap=["prlimit", "--nofile=48:48", "--"])
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port
    # More connections than dnsd has descriptors left: the kernel queues
    # them on the listener (backlog), dnsd accepts until EMFILE.
    conns = []
    for _ in range(80):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        conns.append(s)
    wait_for(lambda: "pausing new connections" in dnsbox.log("dnsd"), 5, 0.05, "the accept pause in the log")
    # Idle while out of descriptors: a spinning listener would burn a CPU.
    before = cpu_seconds(p.pid)
    time.sleep(2)
    used = cpu_seconds(p.pid) - before
    assert used < 0.2, f"dnsd used {used:.2f} s of CPU in 2 s while out of descriptors"
    # UDP is not affected.
    assert "192.0.2.1" in dig(dnsbox, "www.example.com", "+short")
    # The warning is not repeated for every 100 ms pause.
    assert dnsbox.log("dnsd").count("pausing new connections") <= 2
    for s in conns:
        s.close()
    # Descriptors free again: a new TCP query is answered.
    wait_for(lambda: "192.0.2.1" in dig(dnsbox, "www.example.com", "+tcp", "+short"), 10, 0.2,
             "a TCP answer after the descriptors are back")
    assert p.poll() is None
