"""Helpers for the tests of dnsd's own (authoritative) answers: ports and
dig against one dnsd (`d.port`)."""
import subprocess

import helpers


def free_port() -> int:
    """dnsd below binds UDP and TCP on 127.0.0.1 and ::1."""
    return helpers.free_port("127.0.0.1", "::1")


def dig(d, *args, server="127.0.0.1"):
    r = subprocess.run(["dig", f"@{server}", "-p", str(d.port), "+time=2", "+tries=1", *args],
                       capture_output=True, text=True, timeout=20)
    return r.stdout
