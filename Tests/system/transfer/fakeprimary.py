"""A primary that misbehaves on purpose (dnspython builds the messages): it
serves a good AXFR of serial 1, then whatever `mode` says for later
transfers: a stream cut short, bytes that are not DNS, a record outside the
zone, or a closing SOA that never comes."""
from __future__ import annotations

import socket
import struct
import threading

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset


def rrset(text: str) -> dns.rrset.RRset:
    name, ttl, cls, typ, *rdata = text.split(None, 4)
    return dns.rrset.from_text(name, int(ttl), cls, typ, " ".join(rdata))


class FakePrimary:
    def __init__(self, origin: str, port: int):
        self.origin = origin
        self.port = port
        self.mode = "good"
        self.requests: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.stopped = False
        self.errors: list[str] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def soa(self, serial: int) -> str:
        return f"{self.origin}. 300 IN SOA ns1.{self.origin}. hostmaster.{self.origin}. {serial} 3600 600 86400 60"

    def records(self, serial: int) -> list[str]:
        o = self.origin
        return [self.soa(serial), f"{o}. 300 IN NS ns1.{o}.", f"ns1.{o}. 300 IN A 192.0.2.53",
                f"www.{o}. 300 IN A 192.0.2.{serial}"] + [f"h{i}.{o}. 300 IN A 10.1.0.{i}" for i in range(20)]

    def serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()

    @staticmethod
    def recv_exact(c, n: int) -> bytes:
        """n bytes (TCP may deliver the length and the message in pieces)."""
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise OSError("the client closed the connection")
            data += chunk
        return data

    @staticmethod
    def send(c, wire: bytes):
        c.sendall(struct.pack("!H", len(wire)) + wire)

    def message(self, q, texts: list[str]) -> bytes:
        m = dns.message.make_response(q)
        m.flags |= dns.flags.AA
        for t in texts:
            m.answer.append(rrset(t))
        return m.to_wire()

    def handle(self, c):
        with c:
            try:
                n = struct.unpack("!H", self.recv_exact(c, 2))[0]
                q = dns.message.from_wire(self.recv_exact(c, n))
                self.requests.append(dns.rdatatype.to_text(q.question[0].rdtype))
                mode = self.mode
                if mode == "good":
                    recs = self.records(1)
                    self.send(c, self.message(q, recs[:10]))
                    self.send(c, self.message(q, recs[10:] + [self.soa(1)]))
                elif mode == "truncated":
                    recs = self.records(2)
                    self.send(c, self.message(q, recs[:10]))   # then the connection closes
                elif mode == "garbage":
                    self.send(c, self.message(q, self.records(2)[:5]))
                    self.send(c, b"\x12\x34" + bytes(range(200)))
                elif mode == "outside":
                    recs = self.records(2) + ["www.elsewhere.test. 300 IN A 192.0.2.66", self.soa(2)]
                    self.send(c, self.message(q, recs))
                elif mode == "cname-and-a":
                    # A whole zone that breaks a zone rule (CNAME and other data).
                    o = self.origin
                    recs = self.records(2) + [f"www.{o}. 300 IN CNAME ns1.{o}.", self.soa(2)]
                    self.send(c, self.message(q, recs))
                elif mode == "silent":
                    recs = self.records(2)
                    self.send(c, self.message(q, recs))   # no closing SOA, connection kept open
                    threading.Event().wait(30)
            except (OSError, struct.error, dns.exception.DNSException) as e:
                self.errors.append(repr(e))   # shown when a test fails

    def notify(self, dns_port: int):
        """A NOTIFY from 127.0.0.1 (an allowed primary address) to dnsbox."""
        m = dns.message.make_query(self.origin + ".", "SOA")
        m.flags = dns.flags.AA
        m.set_opcode(dns.opcode.NOTIFY)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(m.to_wire(), ("127.0.0.1", dns_port))
            reply = dns.message.from_wire(s.recv(512))
        return reply.rcode()

    def close(self):
        self.stopped = True
        self.sock.close()
