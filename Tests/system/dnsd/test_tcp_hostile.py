"""One hostile TCP client cannot deny TCP to another: a client address holds
at most its share of the connection slots (tcp_max_per_client, default a
tenth), a query trickled a byte at a time loses its connection after
tcp_io_timeout (RFC 7766 §6.2.3), and when every slot is taken the
connection idle the longest makes room for a new one (§6.2.2)."""
import socket
import struct
import time

from dnsd.authoritative import ZONE, dig, free_port
from helpers import need_tool, wait_for

QUERY = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"


def start(dnsbox, tmp_path, extra="", max_connections=20):
    need_tool("dig")
    (tmp_path / "example.com.zone").write_text(ZONE)
    port = free_port()
    dnsbox.write_config(
        "config dnsd 'main'\n"
        f"\tlist listen '127.0.0.1:{port}'\n"
        "\toption workers '1'\n"
        f"\toption tcp_max_connections '{max_connections}'\n"
        "\toption tcp_idle_timeout '30s'\n" + extra +
        "config zone\n\toption name 'example.com'\n"
        f"\toption file '{tmp_path / 'example.com.zone'}'\n")
    dnsbox.proc = dnsbox.start("dnsd", "-c", str(dnsbox.config_path), name="dnsd")
    dnsbox.wait_ready("dnsd")
    dnsbox.port = port
    return port


def alive(s: socket.socket) -> bool:
    """True while the server has not closed `s`."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def tcp_answer(port, source="127.0.0.2") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3, source_address=(source, 0)) as s:
        s.sendall(struct.pack("!H", len(QUERY)) + QUERY)
        n = struct.unpack("!H", s.recv(2))[0]
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
        return data


def test_one_client_cannot_take_every_slot(dnsbox, tmp_path):
    port = start(dnsbox, tmp_path)
    hostile = [socket.create_connection(("127.0.0.1", port), timeout=2, source_address=("127.0.0.1", 0))
               for _ in range(20)]
    for s in hostile:
        s.sendall(b"\x00")   # the first byte of a length prefix, then nothing
    time.sleep(0.3)
    held = sum(alive(s) for s in hostile)
    assert held == 2, f"one address holds {held} of 20 slots; its share is 2"
    # Another client is served at once, over TCP.
    assert tcp_answer(port)[:2] == b"\x12\x34"
    out = dig(dnsbox, "+tcp", "-b", "127.0.0.3", "www.example.com")
    assert "status: NOERROR" in out and "192.0.2.1" in out
    for s in hostile:
        s.close()


def test_a_trickled_query_loses_its_connection(dnsbox, tmp_path):
    port = start(dnsbox, tmp_path, "\toption tcp_io_timeout '1s'\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    framed = struct.pack("!H", len(QUERY)) + QUERY
    t0 = time.monotonic()
    closed_after = None
    for b in framed:
        try:
            s.sendall(bytes([b]))
        except OSError:
            closed_after = time.monotonic() - t0
            break
        time.sleep(0.3)
        if not alive(s):
            closed_after = time.monotonic() - t0
            break
    assert closed_after is not None, "a query trickled over 10 s kept its connection"
    assert closed_after < 3.5, f"closed after {closed_after:.1f}s; tcp_io_timeout is 1s"
    # A whole query sent at once is answered as ever.
    assert tcp_answer(port, "127.0.0.1")[:2] == b"\x12\x34"


def test_when_full_the_longest_idle_connection_makes_room(dnsbox, tmp_path):
    port = start(dnsbox, tmp_path, max_connections=4)
    # Four idle connections from four addresses fill every slot (a tenth of 4 is 1 each).
    idle = [socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(f"127.0.1.{i}", 0))
            for i in range(1, 5)]
    time.sleep(0.2)
    assert all(alive(s) for s in idle)
    assert tcp_answer(port, "127.0.2.1")[:2] == b"\x12\x34"
    time.sleep(0.2)
    assert not alive(idle[0]), "the connection idle the longest should have been closed"
    assert sum(alive(s) for s in idle) == 3
