"""Helpers for the tests of dnsd's own (authoritative) answers: the zone the
`dnsd` fixture (conftest.py) serves, ports, and dig against one dnsd (`d.port`)."""
import subprocess

import helpers

ZONE = """$TTL 300
@       IN SOA ns1 hostmaster 2024010101 3600 600 1209600 60
@       IN NS  ns1
ns1     IN A   192.0.2.53
www     IN A   192.0.2.1
www     IN AAAA 2001:db8::1
alias   IN CNAME www
*.wild  IN A   192.0.2.9
sub     IN NS  ns.sub
ns.sub  IN A   192.0.2.77
""" + "".join(f'big IN TXT "{chr(97 + i) * 120}"\n' for i in range(8))


def free_port() -> int:
    """dnsd below binds UDP and TCP on 127.0.0.1 and ::1."""
    return helpers.free_port("127.0.0.1", "::1")


def dig(d, *args, server="127.0.0.1"):
    r = subprocess.run(["dig", f"@{server}", "-p", str(d.port), "+time=2", "+tries=1", *args],
                       capture_output=True, text=True, timeout=20)
    return r.stdout
