"""A hand-crafted DHCPv4 client for the dhcpd system tests, run inside the
client's network namespace: sends the messages given as JSON on the command
line from 0.0.0.0:68 (bound to the interface) and prints every reply, decoded,
as one JSON line each.

    python3 dhcp_probe.py IFACE '[{"type": 1, "mac": "02:..", "options": {"93": "0007"}}]' [WAIT [PORT]]

PORT is the local port (68; 67 to act as a relay agent, which receives the
server's answers there).

A message may also be {"raw": "HEX"} (sent as is: malformed input).
"""
import json
import socket
import struct
import sys
import time

COOKIE = bytes([99, 130, 83, 99])


def build(m: dict) -> bytes:
    if "raw" in m:
        return bytes.fromhex(m["raw"])
    mac = bytes.fromhex(m["mac"].replace(":", ""))
    ciaddr = socket.inet_aton(m.get("ciaddr", "0.0.0.0"))
    flags = 0x8000 if m.get("broadcast", True) else 0
    b = struct.pack(">BBBBIHH", 1, 1, 6, 0, m.get("xid", 0x1234), 0, flags)
    b += ciaddr + bytes(4) + bytes(4) + socket.inet_aton(m.get("giaddr", "0.0.0.0"))
    b += mac + bytes(10) + bytes(64) + bytes(128) + COOKIE
    b += bytes([53, 1, m["type"]])
    for code, hexval in m.get("options", {}).items():
        v = bytes.fromhex(hexval)
        b += bytes([int(code), len(v)]) + v
    return b + bytes([255]) + bytes(max(0, 300 - len(b) - 1))


def decode(p: bytes) -> dict:
    out = {"op": p[0], "xid": struct.unpack(">I", p[4:8])[0], "yiaddr": socket.inet_ntoa(p[16:20]),
           "siaddr": socket.inet_ntoa(p[20:24]), "file": p[108:236].rstrip(b"\0").decode(errors="replace"),
           "options": {}}
    i, opts = 240, {}
    while i < len(p) and p[i] != 255:
        if p[i] == 0:
            i += 1
            continue
        code, n = p[i], p[i + 1]
        opts[str(code)] = opts.get(str(code), "") + p[i + 2:i + 2 + n].hex()
        i += 2 + n
    out["options"] = opts
    out["type"] = int(opts.get("53", "00"), 16)
    return out


def main() -> None:
    iface, msgs = sys.argv[1], json.loads(sys.argv[2])
    wait = float(sys.argv[3]) if len(sys.argv) > 3 else 1.5
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 68
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("0.0.0.0", port))
    for m in msgs:
        s.sendto(build(m), (m.get("to", "255.255.255.255"), 67))
        time.sleep(0.05)
    s.settimeout(0.2)
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            p, _ = s.recvfrom(4096)
        except socket.timeout:
            continue
        if len(p) >= 240 and p[0] == 2:
            print(json.dumps(decode(p)), flush=True)


if __name__ == "__main__":
    main()
